"""Keeping a process-local message archive in step with the database.

With activity-store's memory backend every process holds only the messages it archived
itself, so a worker that never drafted a user's other threads (another worker did, or this
process restarted since) would find no related messages. The service therefore tracks which
version of each thread its archive holds and, in a job's first transaction, reads the user's
threads at any other version (see :func:`draft_service.db.jobs.start_job`); they are archived
before the related-message query. A thread's version and its new messages commit together, so
a version seen here always comes with all its messages. With a shared archive (Elasticsearch)
none of this runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from draft_service.archive import MessageArchive
from draft_service.db.records import EarlierThread

__all__ = ["ArchiveIndex"]

_NONE: Mapping[int, int] = MappingProxyType({})


class ArchiveIndex:
    """Which version of each of a user's threads a process-local archive holds."""

    def __init__(self) -> None:
        self._versions: dict[str, dict[int, int]] = {}

    def indexed(self, user_id: str) -> Mapping[int, int]:
        """Thread id to the version archived, for ``user_id``'s threads."""
        return self._versions.get(user_id, _NONE)

    def mark(self, user_id: str, thread_id: int, version: int) -> None:
        """Record that the archive holds ``thread_id``'s messages up to ``version``."""
        versions = self._versions.setdefault(user_id, {})
        if versions.get(thread_id, 0) < version:
            versions[thread_id] = version

    async def catch_up(
        self, archive: MessageArchive, user_id: str, threads: Sequence[EarlierThread]
    ) -> None:
        """Archive ``threads`` (read by the job) and mark each as held at its version; a
        thread another job archived at that version meanwhile is skipped.

        Raises:
            PlatformError: the archive failed; threads archived before stay marked.
        """
        for thread in threads:
            if self.indexed(user_id).get(thread.id, 0) >= thread.version:
                continue  # another job of the user archived it since this one read it
            await archive.archive(user_id, thread.thread_name, thread.messages)
            self.mark(user_id, thread.id, thread.version)
