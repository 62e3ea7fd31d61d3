"""The message archive: every message as an ActivityStreams ``Note``, searchable by text."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from draft_service.db.records import StoredMessage
from draft_service.prompt import PromptLine

__all__ = ["MessageArchive"]


class MessageArchive(Protocol):
    """Where messages are archived and related earlier ones are found."""

    @property
    def shared(self) -> bool:
        """Whether every process sees what any process archived (Elasticsearch). When false
        (memory), the service archives a user's threads this process has not indexed yet
        before each related-message query."""
        ...

    async def archive(
        self, user_id: str, thread_name: str, messages: Sequence[StoredMessage]
    ) -> None:
        """Store ``messages`` of the thread; storing the same message again changes nothing."""
        ...

    async def related(
        self,
        user_id: str,
        thread_name: str,
        text: str,
        limit: int,
        threads: Collection[str] | None = None,
    ) -> list[PromptLine]:
        """Up to ``limit`` earlier messages of ``user_id`` from other threads matching ``text``.

        ``threads`` limits the search to those thread names (``None``: any thread of the
        user). Each line's ``ref`` is the archive object's id.
        """
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
