"""Per-key rate limiting: a fixed one-minute window, in process or shared through Redis.

With Redis every server process counts against the same budget (``INCR`` + ``EXPIRE`` on a
key per API key and window); without it each process keeps its own counters.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from platform_core.redis import wrap_redis_errors

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["InProcessRateLimiter", "RateLimiter", "RedisRateLimiter"]

_WINDOW = 60


class RateLimiter(Protocol):
    """Decides whether a caller may make one more request now."""

    async def hit(self, caller: str) -> int | None:
        """Count one request; return None when allowed, else seconds until the next window."""
        ...


class InProcessRateLimiter:
    """Counters in this process's memory.

    Args:
        per_minute: Requests allowed per caller per minute.
    """

    def __init__(self, per_minute: int) -> None:
        self._limit = per_minute
        self._window = -1
        self._counts: dict[str, int] = {}

    async def hit(self, caller: str) -> int | None:
        """Count one request; return None when allowed, else seconds to wait."""
        now = time.time()
        window = int(now // _WINDOW)
        if window != self._window:
            self._window = window
            self._counts.clear()
        count = self._counts.get(caller, 0) + 1
        self._counts[caller] = count
        if count <= self._limit:
            return None
        return max(1, int((window + 1) * _WINDOW - now) + 1)


class RedisRateLimiter:
    """Counters shared by every process through Redis.

    Args:
        client: The Redis client.
        per_minute: Requests allowed per caller per minute.
        prefix: Key prefix.
    """

    def __init__(self, client: Redis, per_minute: int, prefix: str) -> None:
        self._client = client
        self._limit = per_minute
        self._prefix = prefix

    async def hit(self, caller: str) -> int | None:
        """Count one request; return None when allowed, else seconds to wait.

        Raises:
            DependencyUnavailableError: Redis cannot be reached.
        """
        now = time.time()
        window = int(now // _WINDOW)
        key = f"{self._prefix}ratelimit:{caller}:{window}"
        with wrap_redis_errors("rate limit INCR"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, _WINDOW * 2)
                count, _ = await pipe.execute()
        if int(count) <= self._limit:
            return None
        return max(1, int((window + 1) * _WINDOW - now) + 1)
