"""A feed within one process (see :mod:`necrostack.feeds`)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator

from necrostack.event import Event
from necrostack.feeds import FeedBase, FeedEntry

__all__ = ["MemoryFeed"]


class MemoryFeed(FeedBase):
    """An in-process :class:`~necrostack.feeds.Feed` keeping the last ``keep`` entries of each
    channel, and the ``channels`` channels published to most recently (``ttl`` is not needed:
    a channel no one publishes to any more is dropped as newer ones arrive).

    Entries are kept as JSON text, as a Redis feed keeps them, and read back as new events; a
    channel's entries are a tuple of ``(number, text)`` tuples, replaced on each publish.
    Tuples of numbers and text are invisible to the garbage collector: tens of thousands of
    kept events as objects (an event, its dicts and its set each, and a deque per channel)
    were walked by every collection of the older generations, a pause of tens of
    milliseconds for every request in flight in a service keeping them.

    Args:
        keep: Entries kept per channel for readers that resume.
        channels: Channels kept.
    """

    def __init__(self, keep: int = 1000, channels: int = 10_000) -> None:
        self._keep = keep
        self._max_channels = channels
        self._seq = 0
        self._channels: OrderedDict[str, tuple[tuple[int, str], ...]] = OrderedDict()
        self._changed = asyncio.Condition()

    async def publish(self, channel: str, event: Event, *, ttl: int | None = None) -> str:
        """Append ``event``; readers waiting on the channel wake up."""
        async with self._changed:
            self._seq += 1
            entries = self._channels.get(channel, ())
            if len(entries) >= self._keep:
                entries = entries[len(entries) - self._keep + 1 :]
            self._channels[channel] = (*entries, (self._seq, event.model_dump_json()))
            self._channels.move_to_end(channel)
            while len(self._channels) > self._max_channels:
                self._channels.popitem(last=False)
            self._changed.notify_all()
            return str(self._seq)

    async def _entries(
        self, channel: str, after: str | None, idle: float | None
    ) -> AsyncIterator[FeedEntry | None]:
        last = self._seq if after is None else _int(after)
        while True:
            fresh: list[tuple[int, str]] = []
            async with self._changed:
                while not fresh:
                    fresh = [(n, e) for n, e in self._channels.get(channel, ()) if n > last]
                    if fresh:
                        break
                    try:
                        await asyncio.wait_for(self._changed.wait(), idle)
                    except TimeoutError:
                        break
            if not fresh:
                yield None
            for n, text in fresh:
                last = n
                yield FeedEntry(str(n), Event.model_validate_json(text))

    async def close(self) -> None:
        """Nothing to release."""


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
