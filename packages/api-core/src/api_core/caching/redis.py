"""Redis cache (extra ``api-core[redis]``): JSON values under a key prefix, failing open.

When Redis cannot be reached a call logs a warning and behaves like a miss (``get`` returns
``None``, writes are skipped), so the service keeps answering from its source of truth. The
client reconnects by itself; the first successful call logs that the cache recovered.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from api_core.caching.config import CacheConfig
from platform_core.logging import get_logger

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from platform_core.redis import RedisSettings

__all__ = ["RedisCache"]

_log = get_logger(__name__)


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


class RedisCache:
    """A shared cache in Redis; satisfies ``CacheProvider``.

    Args:
        client: A ``redis.asyncio.Redis`` (see :func:`platform_core.redis.create_redis`).
        config: Default TTL and key prefix (``max_size`` is Redis's business).
    """

    def __init__(self, client: Redis, config: CacheConfig | None = None) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        self.client = client
        self.config = config or CacheConfig()
        self._errors: tuple[type[BaseException], ...] = (
            RedisConnectionError,
            RedisTimeoutError,
            OSError,
        )
        self._failing = False

    @classmethod
    def from_settings(
        cls, settings: RedisSettings | None = None, config: CacheConfig | None = None
    ) -> RedisCache:
        """Build from :class:`platform_core.redis.RedisSettings` (``REDIS_*`` variables)."""
        from platform_core.redis import RedisSettings, create_redis

        return cls(create_redis(settings or RedisSettings.load()), config)

    def key(self, key: str) -> str:
        """The Redis key used for ``key``."""
        return self.config.key_prefix + key

    def _down(self, action: str, exc: BaseException) -> None:
        if not self._failing:
            _log.warning(
                "redis cache unavailable; treating as a miss",
                action=action,
                error=f"{type(exc).__name__}: {exc}",
            )
        self._failing = True

    def _up(self) -> None:
        if self._failing:
            self._failing = False
            _log.info("redis cache recovered")

    @classmethod
    def from_config(cls, config: CacheConfig, redis_settings: Any = None) -> RedisCache:
        """Plugin constructor (``api_core.caches`` entry point ``redis``)."""
        return cls.from_settings(redis_settings, config)

    async def get(self, key: str) -> Any | None:
        """Return the decoded value, or ``None`` on a miss or while Redis is unreachable."""
        try:
            raw = await self.client.get(self.key(key))
        except self._errors as exc:
            self._down("GET", exc)
            return None
        self._up()
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` as JSON for ``ttl`` seconds (skipped while Redis is unreachable).

        Raises:
            TypeError: ``value`` is not JSON-serialisable.
        """
        payload = json.dumps(value, separators=(",", ":"))
        millis = max(1, int((ttl if ttl is not None else self.config.ttl) * 1000))
        try:
            await self.client.set(self.key(key), payload, px=millis)
        except self._errors as exc:
            self._down("SET", exc)
            return
        self._up()

    async def delete(self, key: str) -> None:
        """Remove ``key`` (skipped while Redis is unreachable)."""
        try:
            await self.client.delete(self.key(key))
        except self._errors as exc:
            self._down("DEL", exc)
            return
        self._up()

    async def clear(self) -> None:
        """Remove every key under the prefix (all keys of the database when it is empty)."""
        pattern = _glob_escape(self.config.key_prefix) + "*"
        try:
            batch: list[bytes] = []
            async for name in self.client.scan_iter(match=pattern, count=500):
                batch.append(name)
                if len(batch) >= 500:
                    await self.client.delete(*batch)
                    batch.clear()
            if batch:
                await self.client.delete(*batch)
        except self._errors as exc:
            self._down("SCAN/DEL", exc)
            return
        self._up()

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()
