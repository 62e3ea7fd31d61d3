"""Running a draft job: the prompt, the LLM calls under the process's limit, the output checks.

At most ``DRAFTS_LLM_CONCURRENCY`` LLM calls run at once in a process; other jobs wait their
turn. Each call is streamed as a task of its own, registered by job: when the job's result is
no longer wanted (newer messages, its draft rejected or superseded) :meth:`Drafter.stop`
cancels the task, which closes the stream so the server stops generating.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from draft_service.errors import LLMError, LLMOutputError
from draft_service.llm import Completion, DraftRequest, LLMProvider, with_retries
from draft_service.output import review
from draft_service.prompt import PromptLine, Writer, prompt_hash, render_draft, render_revision
from draft_service.settings import DraftSettings
from draft_service.store import JobContext, Store
from platform_core.logging import get_logger

__all__ = ["Discarded", "Drafter", "Outcome", "Prepared"]

_log = get_logger("draft_service.drafting")
_DELTA_EVERY = 0.05  # seconds: token deltas are published at most this often

Related = Callable[[JobContext, Writer], Awaitable[tuple[list[PromptLine], str]]]
"""Finds a job's related earlier messages: the lines and the scope used."""
Publish = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""Publishes an event: channel, type, payload."""


class Discarded(Exception):  # noqa: N818 - a signal between the drafter and the service
    """The job's result is no longer wanted; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The text a job drafted, whether it is ``ready`` or ``truncated``, and its provenance."""

    completion: Completion
    content: str
    status: str
    provenance: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A job's rendered prompt and the provenance known before the call."""

    request: DraftRequest
    provenance: dict[str, Any]


@dataclass(slots=True)
class _Call:
    job_id: str
    thread_id: int
    version: int
    draft_id: str | None
    task: asyncio.Task[Completion]
    reason: str | None = None


def writer_of(user_id: str, profile: Any) -> Writer:
    """The writer of ``user_id``'s replies: from the profile, else nobody named."""
    if profile is None:
        return Writer(names=(user_id,))
    return Writer(
        display_name=profile.display_name,
        role=profile.role,
        signature=profile.signature,
        tone=profile.tone,
        names=(profile.display_name, user_id),
    )


class Drafter:
    """Writes the text of jobs, at most ``settings.llm_concurrency`` LLM calls at a time.

    Args:
        settings: The service settings.
        store: Persistence.
        provider: The LLM provider.
        related: Finds related earlier messages for a job.
        publish: Publishes events (token deltas go to ``job:<id>``).
    """

    def __init__(
        self,
        settings: DraftSettings,
        store: Store,
        provider: LLMProvider,
        related: Related,
        publish: Publish,
    ) -> None:
        self.settings = settings
        self.store = store
        self.provider = provider
        self._related = related
        self._publish = publish
        self._limit = asyncio.Semaphore(settings.llm_concurrency)
        self._calls: dict[str, _Call] = {}

    # --- stopping calls nobody will keep -------------------------------------------------------

    def stop(
        self,
        reason: str,
        *,
        thread_id: int | None = None,
        below_version: int | None = None,
        draft_ids: tuple[str, ...] = (),
    ) -> int:
        """Cancel the running calls of jobs whose result is no longer wanted.

        Args:
            reason: Recorded as the discarded job's error.
            thread_id: With ``below_version``: calls drafting an older version of the thread.
            below_version: See ``thread_id``.
            draft_ids: Calls revising these drafts.

        Returns:
            How many calls were cancelled.
        """
        stopped = 0
        for call in list(self._calls.values()):
            older = (
                thread_id is not None
                and call.thread_id == thread_id
                and below_version is not None
                and call.version < below_version
            )
            closed = call.draft_id is not None and call.draft_id in draft_ids
            if (older or closed) and call.reason is None and not call.task.done():
                call.reason = reason
                call.task.cancel()
                stopped += 1
        return stopped

    # --- one job -----------------------------------------------------------------------------

    async def prepare(self, ctx: JobContext, writer: Writer) -> Prepared:
        """Render the job's prompt (finding its related messages) and start its provenance."""
        request, provenance = await self._request(ctx, writer)
        return Prepared(request, provenance)

    async def draft(self, ctx: JobContext, prepared: Prepared) -> Outcome:
        """Write the job's text: call the model on the prepared prompt, check the answer.

        Raises:
            Discarded: the result stopped being wanted before or during the call.
            LLMError: the model could not produce a usable answer within the deadline.
        """
        request, provenance = prepared.request, prepared.provenance
        loop = asyncio.get_running_loop()
        async with self._limit:
            # The deadline starts with the job's turn: time spent waiting behind other jobs'
            # calls is not time the LLM failed to answer this one.
            end = loop.time() + self.settings.llm_deadline
            why = await self.store.still_wanted(ctx.job.id)
            if why is not None:
                raise Discarded(why)
            return await self._calls_until_usable(ctx, request, provenance, end)

    async def _calls_until_usable(
        self, ctx: JobContext, request: DraftRequest, provenance: dict[str, Any], end: float
    ) -> Outcome:
        loop = asyncio.get_running_loop()
        tokens = self.settings.llm_max_tokens
        grown = redone = False
        calls = 0
        while True:
            completion = await self._call_with_retries(ctx, request, tokens, end - loop.time())
            calls += 1
            checked = review(completion.content, request.writer, request.transcript)
            status = "ready"
            if completion.finish_reason == "length":
                if not grown:
                    grown, tokens = True, tokens * 2
                    await self.store.note_attempt(
                        ctx.job.id, f"finish_reason length: retrying with max_tokens={tokens}"
                    )
                    continue
                status = "truncated"
            elif checked.problem is not None:
                if not redone:
                    redone = True
                    await self.store.note_attempt(ctx.job.id, f"{checked.problem}: retrying")
                    continue
                raise LLMOutputError(f"{checked.problem} (after {calls} calls)")
            provenance.update(
                finish_reason=completion.finish_reason,
                max_tokens=tokens if self.provider.name != "offline" else None,
                duration_ms=completion.duration_ms,
                served_model=completion.served_model,
                llm_calls=calls,
            )
            return Outcome(completion, checked.text, status, provenance)

    async def _call_with_retries(
        self, ctx: JobContext, request: DraftRequest, tokens: int, deadline: float
    ) -> Completion:
        job_id = ctx.job.id

        async def note(attempt: int, exc: LLMError) -> None:
            """Record the failed attempt; stop retrying for a result nobody will keep."""
            await self.store.note_attempt(job_id, f"{type(exc).__name__}: {exc}")
            why = await self.store.still_wanted(job_id)
            if why is not None:
                raise Discarded(why)

        loop = asyncio.get_running_loop()
        pending: list[str] = []
        flushed = [0.0]

        async def flush() -> None:
            if pending:
                text = "".join(pending)
                pending.clear()
                flushed[0] = loop.time()
                await self._publish(f"job:{job_id}", "delta", {"job_id": job_id, "text": text})

        async def delta(piece: str) -> None:
            # Pieces arriving within 50 ms go out as one event: a client sees the text grow
            # smoothly, and the feed (a Redis XADD each) is not written per token.
            pending.append(piece)
            if loop.time() - flushed[0] >= _DELTA_EVERY:
                await flush()

        async def once(budget: float) -> Completion:
            coro = self.provider.complete(request, max_tokens=tokens, on_delta=delta)
            task = asyncio.create_task(coro, name=f"llm-{job_id}")
            call = _Call(job_id, ctx.thread.id, ctx.job.thread_version, ctx.job.draft_id, task)
            if ctx.job.kind == "draft":
                call.draft_id = None
            self._calls[job_id] = call
            try:
                result = await task
                await flush()
                return result
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if call.reason is not None and (current is None or not current.cancelling()):
                    raise Discarded(call.reason) from None
                raise
            finally:
                pending.clear()
                self._calls.pop(job_id, None)

        return await with_retries(
            once,
            attempts=self.settings.llm_max_attempts,
            base=self.settings.llm_backoff_base,
            cap=self.settings.llm_backoff_cap,
            deadline=max(deadline, 0.001),
            timeout=self.settings.llm_timeout,
            on_retry=note,
        )

    async def _request(
        self, ctx: JobContext, writer: Writer
    ) -> tuple[DraftRequest, dict[str, Any]]:
        thread = ctx.thread
        transcript = [
            PromptLine(m.sender_name, m.sent_at.isoformat(sep=" "), m.content, m.message_id)
            for m in ctx.messages
        ]
        related, scope = await self._related(ctx, writer)
        version = self.settings.prompt_version
        feedback = draft_text = None
        if ctx.job.kind == "feedback":
            draft_text = ctx.current_text or ""
            feedback = ctx.job.feedback or ""
            messages = render_revision(
                version,
                writer=writer,
                thread_name=thread.thread_name,
                transcript=transcript,
                related=related,
                draft=draft_text,
                feedback=feedback,
            )
        else:
            messages = render_draft(
                version,
                writer=writer,
                thread_name=thread.thread_name,
                transcript=transcript,
                related=related,
            )
        request = DraftRequest(
            messages=messages,
            writer=writer,
            thread_name=thread.thread_name,
            transcript=transcript,
            current_draft=draft_text,
            feedback=feedback,
            related=related,
        )
        provenance: dict[str, Any] = {
            "job_id": ctx.job.id,
            "thread_version": ctx.job.thread_version,
            "parent_revision_id": ctx.revision_id if ctx.job.kind == "feedback" else None,
            "message_ids": [line.ref for line in transcript],
            "archive_ids": [line.ref for line in related],
            "related_scope": scope,
            "template_version": version,
            "prompt_sha256": prompt_hash(messages),
            "writer_profile": writer.display_name is not None,
            "temperature": getattr(self.provider, "temperature", None),
        }
        return request, provenance
