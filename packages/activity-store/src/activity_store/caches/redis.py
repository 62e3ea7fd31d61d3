"""A Redis cache (extra ``activity-store[redis]``) that fails open.

Keys are ``{namespace}:{id}`` holding the object as JSON with a time-to-live. When Redis
cannot be reached the store keeps serving from its backend and a warning is logged; ids
written while Redis was away are deleted from it as soon as it answers again, so no stale copy
survives the outage.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

from redis.exceptions import RedisError

from activity_store.errors import ActivityStoreError
from activity_store.interfaces import CacheBackend
from activity_store.settings import ActivityStoreSettings
from platform_core.logging import get_logger
from platform_core.redis import RedisSettings, create_redis

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisCache"]

_log = get_logger(__name__)
_MAX_STALE = 10_000


class RedisCache(CacheBackend):
    """Caches objects in Redis as JSON under ``{namespace}:{id}``.

    Args:
        client: An async Redis client (see :func:`platform_core.redis.create_redis`).
        namespace: Key prefix.
        ttl: Seconds an entry lives (default one hour).
        owns_client: Close ``client`` on :meth:`teardown`.
    """

    def __init__(
        self,
        client: Redis,
        *,
        namespace: str = "activity_store",
        ttl: float = 3600.0,
        owns_client: bool = False,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.client = client
        self.namespace = namespace
        self.ttl_ms = max(1, int(ttl * 1000))
        self._owns_client = owns_client
        self._down = False
        self._stale: set[str] = set()
        self._stale_overflow = False

    @classmethod
    def from_env(cls, *, namespace: str) -> Self:
        """Build the cache from ``REDIS_*`` and ``ACTIVITY_STORE_CACHE_TTL``."""
        ttl = ActivityStoreSettings.load().cache_ttl
        return cls(
            create_redis(RedisSettings.load()), namespace=namespace, ttl=ttl, owns_client=True
        )

    def key(self, object_id: str) -> str:
        """The Redis key holding ``object_id``."""
        return f"{self.namespace}:{object_id}"

    def _ttl_ms(self, ttl: float | None) -> int:
        if ttl is None:
            return self.ttl_ms
        if not ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        return max(1, int(ttl * 1000))

    async def teardown(self, *, delete_data: bool = False) -> None:
        """Close the client if this cache created it; first delete every key when asked.

        Args:
            delete_data: Delete every ``{namespace}:*`` key (found with ``SCAN``).

        Raises:
            ActivityStoreError: ``delete_data`` was asked and Redis failed.
        """
        try:
            if delete_data:
                await self._delete_namespace()
        finally:
            if self._owns_client:
                await self.client.aclose()

    async def _delete_namespace(self) -> None:
        pattern = _glob_escape(self.namespace) + ":*"
        try:
            batch: list[Any] = []
            async for key in self.client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    await self.client.delete(*batch)
                    batch.clear()
            if batch:
                await self.client.delete(*batch)
        except (RedisError, OSError) as exc:
            raise ActivityStoreError(
                f"could not delete the cache keys {pattern!r} from Redis: {exc}"
            ) from exc
        self._stale.clear()

    async def get(self, object_id: str) -> dict[str, Any] | None:
        """Return the cached object; a miss when absent, corrupt, or Redis is down."""
        key = self.key(object_id)
        try:
            if self._stale or self._stale_overflow:
                await self._forget_stale()
            raw = await self.client.get(key)
        except (RedisError, OSError) as exc:
            self._failed("get", object_id, exc)
            return None
        if self._down:
            self._recovered()
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            value = None
        if isinstance(value, dict):
            return value
        _log.warning("activity_store.cache.corrupt", key=key, action="deleted, read backend")
        try:
            await self.client.delete(key)
        except (RedisError, OSError) as exc:
            self._failed("delete", object_id, exc)
        return None

    async def set(self, object_id: str, obj: dict[str, Any], *, ttl: float | None = None) -> None:
        """Write ``obj`` with ``ttl`` seconds to live (default: the cache's); when Redis is
        down, remember to delete it later.

        Raises:
            ValueError: ``ttl`` is not positive.
        """
        ttl_ms = self._ttl_ms(ttl)
        try:
            await self._forget_stale()
            await self.client.set(self.key(object_id), json.dumps(obj), px=ttl_ms)
        except (RedisError, OSError) as exc:
            self._failed("set", object_id, exc)
            return
        self._recovered()

    async def set_many(self, objs: Sequence[dict[str, Any]], *, ttl: float | None = None) -> None:
        """Write every object with the TTL in one pipelined round trip.

        Raises:
            ValueError: ``ttl`` is not positive.
        """
        ttl_ms = self._ttl_ms(ttl)
        if not objs:
            return
        try:
            await self._forget_stale()
            async with self.client.pipeline(transaction=False) as pipe:
                for obj in objs:
                    pipe.set(self.key(obj["id"]), json.dumps(obj), px=ttl_ms)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            for obj in objs:
                self._failed("set", obj["id"], exc)
            return
        self._recovered()

    async def delete(self, object_id: str) -> None:
        """Delete ``object_id``; when Redis is down, delete it once Redis answers."""
        try:
            await self._forget_stale()
            await self.client.delete(self.key(object_id))
        except (RedisError, OSError) as exc:
            self._failed("delete", object_id, exc)
            return
        self._recovered()

    async def _forget_stale(self) -> None:
        if self._stale_overflow:
            _log.warning(
                "activity_store.cache.stale_unknown",
                namespace=self.namespace,
                detail=f"more than {_MAX_STALE} writes missed while Redis was down; entries "
                "may be stale until their TTL ends",
            )
            self._stale_overflow = False
        if self._stale:
            ids = list(self._stale)
            await self.client.delete(*(self.key(object_id) for object_id in ids))
            self._stale.difference_update(ids)

    def _failed(self, action: str, object_id: str, exc: BaseException) -> None:
        # A write that did not reach Redis may leave an old copy there: delete it later.
        if action in ("set", "delete"):
            if len(self._stale) < _MAX_STALE:
                self._stale.add(object_id)
            else:
                self._stale_overflow = True
        if not self._down:
            self._down = True
            _log.warning(
                "activity_store.cache.unavailable",
                action=action,
                error=f"{type(exc).__name__}: {exc}",
                detail="serving from the backend until Redis answers; check REDIS_URL",
            )

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            _log.info("activity_store.cache.recovered", namespace=self.namespace)


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
