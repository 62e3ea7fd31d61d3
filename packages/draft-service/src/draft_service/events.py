"""The service's event feed: job states, token deltas and draft changes, per channel.

Channels are ``user:<user_id>`` (jobs queued or failed; drafts ready, superseded, rejected or
sent), ``job:<job_id>`` (state changes and token deltas) and ``control`` (what running jobs must
stop for, read by every process). Each entry is a necrostack :class:`~necrostack.Event` with an
id that orders it within its channel, so a reader resumes after the last id it saw (SSE
``Last-Event-ID``).

Two implementations: :class:`MemoryFeed` (one process) and :class:`RedisFeed` (a Redis stream
per channel, read by every API and worker process). necrostack's queue backends hand each
event to one consumer; a feed is read by every subscriber, so it reads the streams itself.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from necrostack import Event
from platform_core.redis import wrap_redis_errors

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["EventFeed", "FeedEntry", "MemoryFeed", "RedisFeed"]


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One event as read from a channel: its position ``id`` and the event."""

    id: str
    event: Event


class EventFeed(Protocol):
    """Publishes events to channels and reads them back, in order, from any position."""

    async def publish(self, channel: str, event_type: str, payload: dict[str, Any]) -> str:
        """Append an event to ``channel``; returns its id."""
        ...

    def read(self, channel: str, after: str | None = None) -> AsyncIterator[FeedEntry]:
        """Entries of ``channel`` after id ``after`` (``None``: from now on), forever."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryFeed:
    """An in-process feed keeping the last ``keep`` entries of each channel, and the
    ``channels`` channels published to most recently (a job's channel is dropped long after
    the job ended, as a Redis feed expires it).

    Entries are kept as JSON text, as the Redis feed keeps them, and read back as new
    events; a channel's entries are a tuple of ``(number, text)`` tuples, replaced on each
    publish. Tuples of numbers and text are invisible to the garbage collector: tens of
    thousands of kept events as objects (an event, its dicts and its set each, and a deque
    per channel) were walked by every collection of the older generations, a pause of tens
    of milliseconds for every request in flight.

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

    async def publish(self, channel: str, event_type: str, payload: dict[str, Any]) -> str:
        """Append an event; readers waiting on the channel wake up."""
        event = Event(event_type=event_type, payload=payload)
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

    async def read(self, channel: str, after: str | None = None) -> AsyncIterator[FeedEntry]:
        """Yield entries after ``after`` as they are published."""
        last = self._seq if after is None else _int(after)
        while True:
            async with self._changed:
                while True:
                    entries = self._channels.get(channel, ())
                    fresh = [(n, e) for n, e in entries if n > last]
                    if fresh:
                        break
                    await self._changed.wait()
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


class RedisFeed:
    """A feed on Redis Streams: one stream per channel, trimmed to about ``keep`` entries.

    Args:
        client: The Redis client (``decode_responses`` off).
        prefix: Key prefix of the streams.
        keep: Entries kept per channel.
        ttl: Seconds a job's channel is kept after its last event.
    """

    def __init__(self, client: Redis, prefix: str, *, keep: int = 1000, ttl: int = 3600) -> None:
        self._client = client
        self._prefix = prefix
        self._keep = keep
        self._ttl = ttl

    def _key(self, channel: str) -> str:
        return f"{self._prefix}{channel}"

    async def publish(self, channel: str, event_type: str, payload: dict[str, Any]) -> str:
        """XADD the event (trimmed); a job channel expires ``ttl`` after its last event.

        Raises:
            DependencyUnavailableError: Redis cannot be reached.
        """
        event = Event(event_type=event_type, payload=payload)
        key = self._key(channel)
        with wrap_redis_errors("XADD to the event feed"):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xadd(key, {"e": event.model_dump_json()}, maxlen=self._keep, approximate=True)
                if channel.startswith("job:"):
                    pipe.expire(key, self._ttl)
                entry_id, *_ = await pipe.execute()
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def read(self, channel: str, after: str | None = None) -> AsyncIterator[FeedEntry]:
        """XREAD the channel from ``after`` (``$``: only new entries), blocking between them."""
        key = self._key(channel)
        last = after or "$"
        if last == "$":
            # Pin the position now, so nothing published from here on is missed.
            info = await self._client.xrevrange(key, count=1)
            last = info[0][0].decode() if info else "0-0"
        while True:
            answer = await self._client.xread({key: last}, block=1000, count=100)
            for _stream, entries in answer or ():
                for entry_id, fields in entries:
                    last = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                    yield FeedEntry(last, Event.model_validate_json(fields[b"e"]))

    async def close(self) -> None:
        """Close the client."""
        await self._client.aclose()
