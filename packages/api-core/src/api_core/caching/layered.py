"""Layered cache: in-process L1 (memory) over shared L2 (Redis), kept coherent by pub/sub.

Reads try L1, then L2 (an L2 hit fills L1). Writes and deletes go to both layers and are
published on ``{key_prefix}__invalidate``; every other process listening drops the key from
its L1, so a write in one process is seen by the others. If the listener loses Redis it
reconnects with backoff and clears its L1 on return, because invalidations may have been
missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from api_core.caching.config import CacheConfig
from api_core.caching.memory import MemoryCache
from api_core.caching.redis import RedisCache
from platform_core.logging import get_logger

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["LayeredCache"]

_log = get_logger(__name__)


class LayeredCache:
    """Memory L1 over Redis L2 with cross-process L1 invalidation; satisfies ``CacheProvider``.

    Call :meth:`start` (or use ``async with``) to listen for other processes' writes, and
    :meth:`close` at shutdown.

    Args:
        client: A ``redis.asyncio.Redis`` for L2 and pub/sub.
        config: TTL, L1 size and key prefix (shared by both layers and the channel name).
        l1_ttl: Seconds an entry may live in L1 (defaults to ``config.ttl``).
    """

    def __init__(
        self, client: Redis, config: CacheConfig | None = None, *, l1_ttl: float | None = None
    ) -> None:
        self.config = config or CacheConfig()
        self.l1 = MemoryCache(
            CacheConfig(ttl=l1_ttl or self.config.ttl, max_size=self.config.max_size)
        )
        self.l2 = RedisCache(client, self.config)
        self.channel = f"{self.config.key_prefix}__invalidate"
        self.origin = uuid.uuid4().hex
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> LayeredCache:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def listening(self) -> bool:
        """Whether the invalidation listener is currently subscribed."""
        return self._ready.is_set()

    async def start(self, ready_within: float = 5.0) -> None:
        """Start listening for invalidations; returns once subscribed (or after ``timeout``
        when Redis is down: the listener keeps retrying in the background).

        Args:
            ready_within: Seconds to wait for the subscription."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="layered-cache-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), ready_within)

    async def close(self) -> None:
        """Stop the listener and close the Redis client."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self.l2.close()

    async def _listen(self) -> None:
        backoff = 0.05
        first = True
        while True:
            pubsub = self.l2.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                if not first:
                    await self.l1.clear()  # invalidations may have been missed while away
                    _log.info("layered cache listener reconnected", channel=self.channel)
                first = False
                backoff = 0.05
                self._ready.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self._apply(message.get("data"))
            except self.l2._errors as exc:
                _log.warning(
                    "layered cache listener lost redis; retrying",
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in=backoff,
                )
                self._ready.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                with contextlib.suppress(*self.l2._errors, RuntimeError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _apply(self, data: Any) -> None:
        try:
            note = json.loads(data)
            origin, op, key = note["o"], note["op"], note.get("k")
        except (TypeError, ValueError, KeyError):
            _log.warning("ignoring malformed invalidation", channel=self.channel)
            return
        if origin == self.origin:
            return
        if op == "clear":
            self.l1.clear_nowait()
        elif isinstance(key, str):
            self.l1.delete_nowait(key)

    async def _publish(self, op: str, key: str | None = None) -> None:
        note = json.dumps({"o": self.origin, "op": op, "k": key})
        try:
            await self.l2.client.publish(self.channel, note)
        except self.l2._errors as exc:
            self.l2._down("PUBLISH", exc)

    @classmethod
    def from_config(cls, config: CacheConfig, redis_settings: Any = None) -> LayeredCache:
        """Plugin constructor (``api_core.caches`` entry point ``layered``); call
        :meth:`start` before use."""
        from platform_core.redis import RedisSettings, create_redis

        return cls(create_redis(redis_settings or RedisSettings.load()), config)

    async def get(self, key: str) -> Any | None:
        """L1, then L2 (filling L1 on an L2 hit); ``None`` on a miss."""
        value = self.l1.get_nowait(key)
        if value is not None:
            return value
        value = await self.l2.get(key)
        if value is not None:
            self.l1.set_nowait(key, value)
        return value

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Write both layers and tell other processes to drop their L1 copy."""
        await self.l2.set(key, value, ttl)
        l1_ttl = self.l1.config.ttl if ttl is None else min(ttl, self.l1.config.ttl)
        self.l1.set_nowait(key, value, l1_ttl)
        await self._publish("del", key)

    async def delete(self, key: str) -> None:
        """Delete from both layers and from other processes' L1."""
        self.l1.delete_nowait(key)
        await self.l2.delete(key)
        await self._publish("del", key)

    async def clear(self) -> None:
        """Clear both layers and every other process's L1."""
        await self.l1.clear()
        await self.l2.clear()
        await self._publish("clear")
