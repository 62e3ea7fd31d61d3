"""The draft service: the operations behind the HTTP API and the background jobs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from draft_service.archive import MessageArchive
from draft_service.backfill import ArchiveIndex
from draft_service.errors import LLMError
from draft_service.llm import DraftRequest, LLMProvider, with_retries
from draft_service.models import (
    DraftDetail,
    DraftSummary,
    JobView,
    RevisionView,
    SendMessagesRequest,
)
from draft_service.prompt import PromptLine, render_draft, render_revision
from draft_service.settings import DraftSettings
from draft_service.store import JobContext, Store
from platform_core.errors import PlatformError
from platform_core.logging import get_logger

__all__ = ["DraftService", "Enqueue"]

Enqueue = Callable[[str], Awaitable[None]]
"""Hands a job id to the background queue."""

_log = get_logger("draft_service.service")


async def _no_queue(job_id: str) -> None:
    raise RuntimeError("DraftService has no queue; pass enqueue= or use draft_service.build()")


def _line(sender: str, when: str, content: str) -> PromptLine:
    return PromptLine(sender_name=sender, when=when, content=content)


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
    """

    def __init__(
        self,
        settings: DraftSettings,
        store: Store,
        provider: LLMProvider,
        archive: MessageArchive,
        enqueue: Enqueue = _no_queue,
    ) -> None:
        self.settings = settings
        self.store = store
        self.provider = provider
        self.archive = archive
        self.enqueue = enqueue
        # A process-local archive is caught up from the database before each related query.
        local = not archive.shared and settings.related_limit > 0
        self._index = ArchiveIndex() if local else None

    # --- API operations ---------------------------------------------------------------------

    async def send_messages(self, req: SendMessagesRequest) -> str:
        """Store new messages and queue a draft job; returns the job id (existing on resend)."""
        result = await self.store.add_messages(req)
        if result.new_message_ids:
            await self.enqueue(result.job_id)
        _log.info(
            "messages_received",
            user_id=req.user_id,
            job_id=result.job_id,
            new=len(result.new_message_ids),
        )
        return result.job_id

    async def process_feedback(self, user_id: str, draft_id: str, feedback: str) -> str:
        """Queue a revision of the draft from ``feedback``; returns the job id.

        Raises:
            DraftNotFoundError: the user has no such draft.
        """
        job_id = await self.store.add_feedback_job(user_id, draft_id, feedback)
        await self.enqueue(job_id)
        return job_id

    async def reject(self, user_id: str, draft_id: str) -> None:
        """Reject a draft so it leaves the list.

        Raises:
            DraftNotFoundError: the user has no such draft.
        """
        await self.store.reject(user_id, draft_id)

    async def current_drafts(self, user_id: str) -> list[DraftSummary]:
        """The user's drafts that are neither rejected nor superseded."""
        rows = await self.store.current_drafts(user_id)
        return [
            DraftSummary(thread_name=t, draft_message_id=d, draft_message_content=c)
            for t, d, c in rows
        ]

    async def draft_detail(self, user_id: str, draft_id: str) -> DraftDetail:
        """A draft with its revision lineage.

        Raises:
            DraftNotFoundError: the user has no such draft.
        """
        draft, thread_name, revisions = await self.store.draft(user_id, draft_id)
        views = [
            RevisionView(
                number=r.number,
                content=r.content,
                feedback=r.feedback,
                provider=r.provider,
                model=r.model,
                prompt_version=r.prompt_version,
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
                created_at=r.created_at,
            )
            for r in revisions
        ]
        return DraftDetail(
            draft_message_id=draft.id,
            thread_name=thread_name,
            status=draft.status,
            draft_message_content=views[-1].content if views else "",
            revisions=views,
        )

    async def job_view(self, job_id: str, user_id: str | None) -> JobView:
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

    # --- background work --------------------------------------------------------------------

    async def run_job(self, job_id: str) -> str:
        """Run one job to its end; safe to call again for the same job (at-least-once).

        LLM failures are retried with backoff; after the last attempt the job is ``failed``
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
            await self.store.note_failure(job_id, error)
        except Exception as unrecorded:  # most likely the same outage
            _log.warning("job_error_unrecorded", job_id=job_id, error=error, cause=repr(unrecorded))

    async def _run_job(self, job_id: str) -> str:
        index = self._index
        ctx = await self.store.start_job(job_id, index.indexed if index is not None else None)
        if ctx is None:
            return (await self.store.job(job_id)).status
        job = ctx.job
        if job.kind == "draft" and ctx.thread.version != job.thread_version:
            reason = "discarded as stale: newer messages arrived before drafting started"
            await self.store.finish_job(job_id, "discarded", reason)
            _log.info("job_discarded", job_id=job_id, reason=reason)
            return "discarded"
        if job.kind == "feedback" and ctx.draft_status != "open":
            status = ctx.draft_status or "missing"
            reason = f"discarded: the draft was {status} before the revision started"
            await self.store.finish_job(job_id, "discarded", reason)
            return "discarded"
        request = await self._request(ctx)

        async def note(attempt: int, exc: LLMError) -> None:
            """Record the failed attempt so GET /jobs shows progress and the last error."""
            await self.store.note_attempt(job_id, str(exc))

        try:
            completion = await with_retries(
                lambda: self.provider.complete(request),
                attempts=self.settings.llm_max_attempts,
                base=self.settings.llm_backoff_base,
                cap=self.settings.llm_backoff_cap,
                on_retry=note,
            )
        except LLMError as exc:
            error = f"{type(exc).__name__}: {exc}"
            await self.store.finish_job(job_id, "failed", error)
            _log.error("job_failed", job_id=job_id, error=error)
            return "failed"
        status, detail = await self.store.save_result(
            job_id,
            content=completion.content,
            provider=completion.provider,
            model=completion.model,
            prompt_version=self.settings.prompt_version,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )
        _log.info(
            "job_finished",
            job_id=job_id,
            status=status,
            detail=detail,
            provider=completion.provider,
            model=completion.model,
        )
        return status

    async def _related(self, ctx: JobContext) -> list[PromptLine]:
        """Archive the thread and find related earlier messages.

        The archive only enriches the prompt, so when it is down the draft is written without
        related messages (logged as a warning); the next job of the thread archives its
        messages again, since every job archives the whole thread. A process-local archive
        first takes in the user's threads it lacks (read with the job, see
        :mod:`draft_service.backfill`).
        """
        thread = ctx.thread
        try:
            await self.archive.archive(thread.user_id, thread.thread_name, ctx.messages)
            if self._index is not None:
                self._index.mark(thread.user_id, thread.id, thread.version)
                await self._index.catch_up(self.archive, thread.user_id, ctx.earlier)
            if not (self.settings.related_limit and ctx.messages):
                return []
            return await self.archive.related(
                thread.user_id,
                thread.thread_name,
                ctx.messages[-1].content,
                self.settings.related_limit,
            )
        except PlatformError as exc:
            _log.warning(
                "archive_unavailable",
                job_id=ctx.job.id,
                error=repr(exc),
                detail="drafting without related earlier messages",
            )
            return []

    async def _request(self, ctx: JobContext) -> DraftRequest:
        thread = ctx.thread
        transcript = [
            _line(m.sender_name, m.sent_at.isoformat(sep=" "), m.content) for m in ctx.messages
        ]
        related = await self._related(ctx)
        version = self.settings.prompt_version
        if ctx.job.kind == "feedback":
            draft_text = ctx.current_text or ""
            feedback = ctx.job.feedback or ""
            messages = render_revision(
                version,
                user_id=thread.user_id,
                thread_name=thread.thread_name,
                transcript=transcript,
                related=related,
                draft=draft_text,
                feedback=feedback,
            )
            return DraftRequest(
                messages=messages,
                user_id=thread.user_id,
                thread_name=thread.thread_name,
                transcript=transcript,
                current_draft=draft_text,
                feedback=feedback,
                related=related,
            )
        messages = render_draft(
            version,
            user_id=thread.user_id,
            thread_name=thread.thread_name,
            transcript=transcript,
            related=related,
        )
        return DraftRequest(
            messages=messages,
            user_id=thread.user_id,
            thread_name=thread.thread_name,
            transcript=transcript,
            related=related,
        )
