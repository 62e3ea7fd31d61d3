"""A feed on Redis Streams, shared by every process (see :mod:`necrostack.feeds`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from necrostack.event import Event
from necrostack.feeds import FeedBase, FeedEntry
from platform_core.redis import wrap_redis_errors

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisFeed"]

_BLOCK_MS = 1000


class RedisFeed(FeedBase):
    """A :class:`~necrostack.feeds.Feed` with one Redis stream per channel
    (``{prefix}{channel}``), trimmed to about ``keep`` entries; ids are the stream's.

    Args:
        client: The Redis client (``decode_responses`` on or off).
        prefix: Key prefix of the streams.
        keep: Entries kept per channel.
        owns_client: Close ``client`` in :meth:`close`.
    """

    def __init__(
        self, client: Redis, prefix: str = "", *, keep: int = 1000, owns_client: bool = True
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._keep = keep
        self._owns_client = owns_client

    def _key(self, channel: str) -> str:
        return f"{self._prefix}{channel}"

    async def publish(self, channel: str, event: Event, *, ttl: int | None = None) -> str:
        """XADD the event (trimmed); with ``ttl``, the stream expires ``ttl`` seconds after
        this event.

        Raises:
            DependencyUnavailableError: Redis cannot be reached.
        """
        key = self._key(channel)
        with wrap_redis_errors("XADD to the event feed"):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xadd(key, {"e": event.model_dump_json()}, maxlen=self._keep, approximate=True)
                if ttl is not None:
                    pipe.expire(key, ttl)
                entry_id, *_ = await pipe.execute()
        return _text(entry_id)

    async def _entries(
        self, channel: str, after: str | None, idle: float | None
    ) -> AsyncIterator[FeedEntry | None]:
        key = self._key(channel)
        block = _BLOCK_MS if idle is None else max(1, int(idle * 1000))
        last = after
        if last is None:
            # Pin the position now, so nothing published from here on is missed.
            with wrap_redis_errors("XREVRANGE on the event feed"):
                newest = await self._client.xrevrange(key, count=1)
            last = _text(newest[0][0]) if newest else "0-0"
        while True:
            with wrap_redis_errors("XREAD on the event feed"):
                answer = await self._client.xread({key: last}, block=block, count=100)
            if not answer:
                if idle is not None:
                    yield None
                continue
            for _stream, entries in answer:
                for entry_id, fields in entries:
                    last = _text(entry_id)
                    raw = fields.get(b"e", fields.get("e"))
                    yield FeedEntry(last, Event.model_validate_json(raw))

    async def close(self) -> None:
        """Close the client, when the feed owns it."""
        if self._owns_client:
            await self._client.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
