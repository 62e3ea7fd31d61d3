"""Feeds: events broadcast on named channels, read by every subscriber, resumable by id.

A backend (:mod:`necrostack.backends`) is a work queue: each event goes to one consumer, which
acknowledges it. A feed is the other pattern, for live views such as Server-Sent Events: every
reader of a channel sees every event published to it, in order, and each entry has an id, so
a reader that reconnects resumes after the last id it saw (SSE ``Last-Event-ID``). A channel
keeps its last ``keep`` entries; older ones are gone, as a slow reader's backlog must be.

Two implementations of :class:`Feed`: :class:`~necrostack.feeds.memory.MemoryFeed` within one
process, and :class:`~necrostack.feeds.redis.RedisFeed` on one Redis stream per channel, so an
event published by any process reaches readers in every other (extra ``necrostack[redis]``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from necrostack.event import Event

__all__ = ["Feed", "FeedBase", "FeedEntry"]


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One event as read from a channel: its position ``id`` and the event."""

    id: str
    event: Event


class Feed(Protocol):
    """Publishes events to channels and reads them back, in order, from any kept position."""

    async def publish(self, channel: str, event: Event, *, ttl: int | None = None) -> str:
        """Append ``event`` to ``channel``; returns its id.

        Args:
            channel: The channel's name.
            event: The event.
            ttl: Seconds the channel is kept after this event (``None``: as long as the feed
                keeps channels).

        Raises:
            DependencyUnavailableError: the feed's server cannot be reached.
        """
        ...

    def read(self, channel: str, after: str | None = None) -> AsyncIterator[FeedEntry]:
        """Entries of ``channel`` after id ``after`` (``None``: from now on), until closed."""
        ...

    def watch(
        self, channel: str, after: str | None = None, *, idle: float
    ) -> AsyncIterator[FeedEntry | None]:
        """As :meth:`read`, and ``None`` after each ``idle`` seconds without an entry, so a
        reader can send a keep-alive or notice that its client left."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class FeedBase(ABC):
    """The reading half both feeds share: :meth:`read` and :meth:`watch` over the entries a
    subclass yields from ``_entries`` (``None`` after ``idle`` seconds without one)."""

    async def read(self, channel: str, after: str | None = None) -> AsyncIterator[FeedEntry]:
        """Entries of ``channel`` after id ``after`` (``None``: from now on), until closed."""
        async for entry in self._entries(channel, after, None):
            if entry is not None:
                yield entry

    def watch(
        self, channel: str, after: str | None = None, *, idle: float
    ) -> AsyncIterator[FeedEntry | None]:
        """As :meth:`read`, and ``None`` after each ``idle`` seconds without an entry."""
        return self._entries(channel, after, idle)

    @abstractmethod
    def _entries(
        self, channel: str, after: str | None, idle: float | None
    ) -> AsyncIterator[FeedEntry | None]:
        """Entries after ``after``; with ``idle``, ``None`` after that long without one."""
