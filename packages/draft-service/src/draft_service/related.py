"""Related earlier messages for a job's prompt, within the configured privacy scope."""

from __future__ import annotations

from draft_service.archive import MessageArchive
from draft_service.backfill import ArchiveIndex
from draft_service.prompt import PromptLine, Writer
from draft_service.settings import DraftSettings
from draft_service.store import JobContext, Store
from platform_core.errors import PlatformError
from platform_core.logging import get_logger

__all__ = ["RelatedMessages"]

_log = get_logger("draft_service.service")


def _fold(names: set[str], writer: Writer) -> frozenset[str]:
    return frozenset(n.strip().casefold() for n in names if not writer.is_writer(n))


class RelatedMessages:
    """Finds a job's related earlier messages: call it with the job and its writer.

    Args:
        settings: Scope (``DRAFTS_RELATED_SCOPE``) and how many messages to add.
        archive: Where messages are archived and searched.
        jobs: The store the job's reads go through.
        index: A process-local archive's record of what it holds (None when shared).
    """

    def __init__(
        self,
        settings: DraftSettings,
        archive: MessageArchive,
        jobs: Store,
        index: ArchiveIndex | None,
    ) -> None:
        self._settings = settings
        self._archive = archive
        self._jobs = jobs
        self._index = index

    async def __call__(self, ctx: JobContext, writer: Writer) -> tuple[list[PromptLine], str]:
        """Archive the thread and find related earlier messages within the configured scope.

        ``thread`` searches nothing beyond the thread; ``participants`` only the user's earlier
        threads whose counterparts (every sender but the writer) are exactly this thread's;
        ``user`` every thread of the user. The archive only enriches the prompt, so when it is
        down the draft is written without related messages (logged as a warning); the next
        job of the thread archives its messages again. A process-local archive first takes in
        the user's threads it lacks (read with the job, see :mod:`draft_service.backfill`).
        """
        thread = ctx.thread
        scope = self._settings.related_scope
        try:
            await self._archive.archive(thread.user_id, thread.thread_name, ctx.messages)
            if self._index is not None:
                self._index.mark(thread.user_id, thread.id, thread.version)
                await self._index.catch_up(self._archive, thread.user_id, ctx.earlier)
            if scope == "thread" or not (self._settings.related_limit and ctx.messages):
                return [], scope
            threads: list[str] | None = None
            if scope == "participants":
                mine = _fold({m.sender_name for m in ctx.messages}, writer)
                others = await self._jobs.senders_by_thread(thread.user_id, thread.id)
                threads = [t for t, who in others.items() if mine and _fold(who, writer) == mine]
            lines = await self._archive.related(
                thread.user_id,
                thread.thread_name,
                ctx.messages[-1].content,
                self._settings.related_limit,
                threads,
            )
            return lines, scope
        except PlatformError as exc:
            _log.warning(
                "archive_unavailable",
                job_id=ctx.job.id,
                error=repr(exc),
                detail="drafting without related earlier messages",
            )
            return [], scope
