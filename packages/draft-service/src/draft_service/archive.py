"""The message archive: every message as an ActivityStreams ``Note``, searchable by text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from draft_service.db.schema import Message
from draft_service.prompt import PromptLine

__all__ = ["MessageArchive"]


class MessageArchive(Protocol):
    """Where messages are archived and related earlier ones are found."""

    async def archive(self, user_id: str, thread_name: str, messages: Sequence[Message]) -> None:
        """Store ``messages`` of the thread; storing the same message again changes nothing."""
        ...

    async def related(
        self, user_id: str, thread_name: str, text: str, limit: int
    ) -> list[PromptLine]:
        """Up to ``limit`` earlier messages of ``user_id`` from other threads matching ``text``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
