"""The draft service: the operations behind the HTTP API and the background jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from draft_service.archive import MessageArchive
from draft_service.backfill import ArchiveIndex
from draft_service.drafting import Discarded, Drafter, writer_of
from draft_service.errors import LLMError, QueueFullError
from draft_service.llm import LLMProvider
from draft_service.models import (
    DraftDetail,
    DraftSummary,
    JobView,
    ProfileIn,
    ProfileView,
    RevisionView,
    SendMessagesRequest,
)
from draft_service.prompt import Writer
from draft_service.related import RelatedMessages
from draft_service.relay import hand_over
from draft_service.settings import DraftSettings
from draft_service.store import JobContext, Store
from necrostack import Event, Feed, FeedEntry, MemoryFeed
from platform_core.errors import DependencyUnavailableError
from platform_core.logging import get_logger

__all__ = ["JOB_CHANNEL_TTL", "DraftService", "Enqueue"]

JOB_CHANNEL_TTL = 3600
"""Seconds a job's event channel is kept after its last event (Redis feed)."""

Enqueue = Callable[[str], Awaitable[None]]
"""Hands a job id to the background queue."""

_log = get_logger("draft_service.service")


async def _no_queue(job_id: str) -> None:
    raise RuntimeError("DraftService has no queue; pass enqueue= or use draft_service.build()")


def _never_full() -> bool:
    return False


def _describe(exc: BaseException) -> str:
    """``Type: first line of the message`` (database errors append their SQL on later lines)."""
    first = str(exc).strip().split("\n", 1)[0]
    return f"{type(exc).__name__}: {first}"[:500]


class DraftService:
    """Stores threads, queues draft jobs and runs them.

    Args:
        settings: The service settings.
        store: Persistence.
        provider: The LLM provider.
        archive: The message archive for related earlier messages.
        enqueue: Hands job ids to the background queue.
        feed: Where events go (job states, token deltas, draft changes); in-process when
            omitted.
        jobs: Persistence of the background jobs (``store`` when omitted); a pool of their
            own keeps them from queueing behind requests for a connection.
        queue_full: Whether the queue takes no more jobs now (memory mode's waiting room);
            new work is then refused before anything is stored.
    """

    def __init__(
        self,
        settings: DraftSettings,
        store: Store,
        provider: LLMProvider,
        archive: MessageArchive,
        enqueue: Enqueue = _no_queue,
        feed: Feed | None = None,
        jobs: Store | None = None,
        queue_full: Callable[[], bool] = _never_full,
    ) -> None:
        self.settings = settings
        self._queue_full = queue_full
        self.store = store
        self._jobs = jobs or store
        self.provider = provider
        self.archive = archive
        self.enqueue = enqueue
        self.feed: Feed = feed or MemoryFeed()
        self._preparing = asyncio.Semaphore(settings.llm_concurrency)
        # A process-local archive is caught up from the database before each related query.
        local = not archive.shared and settings.related_limit > 0
        self._index = ArchiveIndex() if local else None
        related = RelatedMessages(settings, archive, self._jobs, self._index)
        self.drafter = Drafter(settings, self._jobs, provider, related, self._publish)

    async def _publish(self, channel: str, event_type: str, payload: dict[str, Any]) -> None:
        # A job's channel is dropped an hour after its last event (its readers are done).
        ttl = JOB_CHANNEL_TTL if channel.startswith("job:") else None
        await self.feed.publish(channel, Event(event_type=event_type, payload=payload), ttl=ttl)

    def _require_room(self) -> None:
        if self._queue_full():
            raise QueueFullError(self.settings.max_waiting_jobs)

    async def _announce(self, channel: str, event_type: str, payload: dict[str, Any]) -> None:
        """Publish an event about work already stored: the database holds the truth (job and
        draft reads show it), so a feed that cannot take the event is logged, not raised, and
        the request that stored the work still succeeds."""
        try:
            await self._publish(channel, event_type, payload)
        except DependencyUnavailableError as exc:
            _log.warning(
                "event_not_published", channel=channel, event_type=event_type, error=str(exc)
            )

    async def _job_state(
        self, job_id: str, status: str, *, after_commit: bool = False, **extra: Any
    ) -> None:
        """Publish a job's state; ``after_commit``: as :meth:`_announce` (logged, not raised)."""
        publish = self._announce if after_commit else self._publish
        await publish(f"job:{job_id}", "state", {"job_id": job_id, "status": status, **extra})

    # --- API operations ---------------------------------------------------------------------

    async def send_messages(self, req: SendMessagesRequest) -> str:
        """Store new messages and queue a draft job; returns the job id (existing on resend).

        A resend whose thread's latest job failed queues that job again.

        Raises:
            QueueFullError: too many jobs wait in this process; nothing was stored.
        """
        self._require_room()
        result = await self.store.add_messages(req)
        queued = {"job_id": result.job_id, "thread": req.thread_name}
        # The user hears of a job before it can finish (its draft.ready follows job.queued).
        if result.requeued:
            await self._announce(f"user:{req.user_id}", "job.queued", queued)
            await hand_over(self.store, self.enqueue, result.job_id)
            await self._job_state(result.job_id, "queued", after_commit=True, retried=True)
        elif result.new_message_ids:
            await self._announce(f"user:{req.user_id}", "job.queued", queued)
            await hand_over(self.store, self.enqueue, result.job_id)
            if result.version > 1:
                # Calls drafting an older version of the thread stop, in whichever process.
                await self._announce(
                    "control",
                    "thread.changed",
                    {"thread_id": result.thread_id, "version": result.version},
                )
        _log.info(
            "messages_received",
            user_id=req.user_id,
            job_id=result.job_id,
            new=len(result.new_message_ids),
            requeued=result.requeued,
        )
        return result.job_id

    async def process_feedback(self, user_id: str, draft_id: str, feedback: str) -> str:
        """Queue a revision of the draft from ``feedback``; returns the job id.

        Raises:
            DraftNotFoundError: the user has no such draft.
            DraftClosedError: the draft is rejected or superseded.
            QueueFullError: too many jobs wait in this process; nothing was stored.
        """
        self._require_room()
        job_id = await self.store.add_feedback_job(user_id, draft_id, feedback)
        queued = {"job_id": job_id, "draft_id": draft_id}
        await self._announce(f"user:{user_id}", "job.queued", queued)
        await hand_over(self.store, self.enqueue, job_id)
        return job_id

    async def reject(self, user_id: str, draft_id: str) -> None:
        """Reject a draft so it leaves the list; revisions of it in progress stop.

        Raises:
            DraftNotFoundError: the user has no such draft.
        """
        if await self.store.reject(user_id, draft_id):
            await self._publish(f"user:{user_id}", "draft.rejected", {"draft_id": draft_id})
            await self._close_drafts((draft_id,), "discarded: the draft was rejected")

    async def mark_sent(self, user_id: str, draft_id: str) -> None:
        """Record that a draft was sent: it leaves the list; revisions in progress stop.

        Marking it again changes nothing.

        Raises:
            DraftNotFoundError: the user has no such draft.
            DraftClosedError: the draft is rejected or superseded.
        """
        if await self.store.mark_sent(user_id, draft_id):
            await self._publish(f"user:{user_id}", "draft.sent", {"draft_id": draft_id})
            await self._close_drafts((draft_id,), "discarded: the draft was sent")

    async def _close_drafts(self, draft_ids: tuple[str, ...], reason: str) -> None:
        if draft_ids:
            payload = {"draft_ids": list(draft_ids), "reason": reason}
            await self._publish("control", "drafts.closed", payload)

    async def retry_job(self, job_id: str, user_id: str) -> JobView:
        """Queue a failed job again.

        Raises:
            JobNotFoundError: the user has no such job.
            JobNotRetryableError: it did not fail, or newer work replaced it.
            QueueFullError: too many jobs wait in this process; nothing was changed.
        """
        self._require_room()
        await self.store.retry_job(job_id, user_id)
        await self._announce(f"user:{user_id}", "job.queued", {"job_id": job_id})
        await hand_over(self.store, self.enqueue, job_id)
        await self._job_state(job_id, "queued", after_commit=True, retried=True)
        return await self.job_view(job_id, user_id)

    async def current_drafts(self, user_id: str) -> list[DraftSummary]:
        """The user's drafts that are neither rejected nor superseded, with a ready text."""
        rows = await self.store.current_drafts(user_id)
        return [
            DraftSummary(thread_name=t, draft_message_id=d, draft_message_content=c)
            for t, d, c in rows
        ]

    async def draft_detail(self, user_id: str, draft_id: str) -> DraftDetail:
        """A draft with its revision lineage and each revision's provenance.

        Raises:
            DraftNotFoundError: the user has no such draft.
        """
        draft, thread_name, revisions = await self.store.draft(user_id, draft_id)
        views = [RevisionView.from_row(r) for r in revisions]
        ready = [v for v in views if v.status == "ready"]
        return DraftDetail(
            draft_message_id=draft.id,
            thread_name=thread_name,
            status=draft.status,
            draft_message_content=ready[-1].content if ready else "",
            revisions=views,
        )

    async def job_view(self, job_id: str, user_id: str) -> JobView:
        """A job's status.

        Raises:
            JobNotFoundError: no such job for this user.
        """
        job = await self.store.job(job_id, user_id)
        return JobView(
            job_id=job.id,
            kind=job.kind,
            status=job.status,
            attempts=job.attempts,
            error=job.error,
            draft_message_id=job.draft_id,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )

    async def profile(self, user_id: str) -> ProfileView | None:
        """The user's writer profile, or ``None``."""
        found = await self.store.profile(user_id)
        return None if found is None else ProfileView.model_validate(found, from_attributes=True)

    async def put_profile(self, user_id: str, profile: ProfileIn) -> ProfileView:
        """Create or replace the user's writer profile."""
        saved = await self.store.put_profile(user_id, profile.model_dump())
        return ProfileView.model_validate(saved, from_attributes=True)

    # --- events from other processes --------------------------------------------------------

    async def follow_control(self) -> None:
        """Stop this process's LLM calls whose result another process made unwanted.

        Reads the feed's ``control`` channel until cancelled; when the feed fails (Redis
        down), the error is logged and reading resumes after the last entry seen.
        """
        last: str | None = None
        while True:
            try:
                async for entry in self.feed.read("control", last):
                    last = entry.id
                    self._on_control(entry)
            except Exception as exc:  # the feed's transport errors; retried, never fatal
                _log.warning("control_feed_unavailable", error=repr(exc), retry_in=1.0)
                await asyncio.sleep(1.0)

    def _on_control(self, entry: FeedEntry) -> None:
        data = entry.event.payload
        if entry.event.event_type == "thread.changed":
            stopped = self.drafter.stop(
                "discarded as stale: newer messages arrived while drafting",
                thread_id=int(data["thread_id"]),
                below_version=int(data["version"]),
            )
        elif entry.event.event_type == "drafts.closed":
            stopped = self.drafter.stop(str(data["reason"]), draft_ids=tuple(data["draft_ids"]))
        else:
            return
        if stopped:
            _log.info("llm_calls_stopped", count=stopped, cause=entry.event.event_type)

    # --- background work --------------------------------------------------------------------

    async def run_job(self, job_id: str) -> str:
        """Run one job to its end; safe to call again for the same job (at-least-once).

        LLM failures are retried with backoff until the deadline; then the job is ``failed``
        with the error. Any other failure (the database, say) is recorded as the job's last
        error and propagates so the queue redelivers; when the queue gives up, the job is
        failed with that error (see :func:`draft_service.queue.fail_given_up_jobs`).

        Returns:
            The job's final status.
        """
        try:
            return await self._run_job(job_id)
        except Exception as exc:
            await self._note_failure(job_id, exc)
            raise

    async def _note_failure(self, job_id: str, exc: Exception) -> None:
        error = _describe(exc)
        try:
            await self._jobs.note_failure(job_id, error)
        except Exception as unrecorded:  # most likely the same outage
            _log.warning("job_error_unrecorded", job_id=job_id, error=error, cause=repr(unrecorded))

    async def _discard(self, job_id: str, reason: str) -> str:
        await self._jobs.finish_job(job_id, "discarded", reason)
        await self._job_state(job_id, "discarded", error=reason)
        _log.info("job_discarded", job_id=job_id, reason=reason)
        return "discarded"

    async def _run_job(self, job_id: str) -> str:
        # As many jobs prepare at once as may call the LLM: after a burst, the first jobs
        # reach the LLM first instead of every running job preparing at once, and jobs
        # still prepare ahead of the calls in flight.
        async with self._preparing:
            started = await self._start(job_id)
            if isinstance(started, str):
                return started
            ctx, writer = started
            prepared = await self.drafter.prepare(ctx, writer)
        job = ctx.job
        try:
            outcome = await self.drafter.draft(ctx, prepared)
        except Discarded as why:
            return await self._discard(job_id, str(why))
        except LLMError as exc:
            error = f"{type(exc).__name__}: {exc}"
            await self._jobs.finish_job(job_id, "failed", error)
            await self._job_state(job_id, "failed", error=error)
            failed = {"job_id": job_id, "thread": ctx.thread.thread_name, "error": error}
            await self._publish(f"user:{job.user_id}", "job.failed", failed)
            _log.error("job_failed", job_id=job_id, error=error)
            return "failed"
        completion = outcome.completion
        saved = await self._jobs.save_result(
            job_id,
            {
                "content": outcome.content,
                "provider": completion.provider,
                "model": completion.model,
                "prompt_version": self.settings.prompt_version,
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "status": outcome.status,
                "finish_reason": completion.finish_reason,
                "provenance": outcome.provenance,
            },
        )
        extra = {"draft_id": saved.draft_id} if saved.draft_id else {"error": saved.reason}
        await self._job_state(job_id, saved.status, **extra)
        user = f"user:{job.user_id}"
        if saved.status in ("done", "truncated"):
            # A truncated draft is not offered: its owner hears of it to revise it (feedback).
            ready = {"draft_id": saved.draft_id, "job_id": job_id, "thread": ctx.thread.thread_name}
            kind = "draft.ready" if saved.status == "done" else "draft.truncated"
            await self._publish(user, kind, ready)
        for old in saved.superseded:
            await self._publish(user, "draft.superseded", {"draft_id": old, "by": saved.draft_id})
        await self._close_drafts(saved.superseded, "discarded: the draft was superseded")
        _log.info(
            "job_finished",
            job_id=job_id,
            status=saved.status,
            draft_id=saved.draft_id,
            provider=completion.provider,
            model=completion.model,
            finish_reason=completion.finish_reason,
        )
        return saved.status

    async def _start(self, job_id: str) -> tuple[JobContext, Writer] | str:
        """Mark the job running and read what it needs; its final status when it ends here
        (it had already ended, or its result is unwanted before drafting)."""
        index = self._index
        ctx = await self._jobs.start_job(job_id, index.indexed if index is not None else None)
        if ctx is None:
            return (await self._jobs.job(job_id)).status
        job = ctx.job
        if job.kind == "draft" and ctx.thread.version != job.thread_version:
            return await self._discard(
                job_id, "discarded as stale: newer messages arrived before drafting"
            )
        if job.kind == "feedback" and ctx.draft_status != "open":
            status = ctx.draft_status or "missing"
            return await self._discard(
                job_id, f"discarded: the draft was {status} before the revision"
            )
        await self._job_state(job_id, "running")
        return ctx, writer_of(job.user_id, await self._jobs.profile(job.user_id))
