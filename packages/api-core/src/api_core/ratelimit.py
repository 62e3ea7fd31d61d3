"""Fixed-window rate limiting, in process or shared through Redis.

A limiter counts hits per caller (an API key, a client address, anything string-shaped) in
fixed windows (one minute unless told otherwise). With Redis every server process counts
against the same budget (``INCR`` + ``EXPIRE`` on one key per caller and window); in memory each
process keeps its own counters. ``hit`` counts and answers; ``retry_after`` only answers, for
limits that count failures (e.g. failed logins) but must refuse before doing the work.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from platform_core.redis import wrap_redis_errors

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["InProcessRateLimiter", "RateLimiter", "RedisRateLimiter"]


class RateLimiter(Protocol):
    """Decides whether a caller may make one more request now."""

    async def hit(self, caller: str) -> int | None:
        """Count one request; return None when allowed, else seconds until the next window."""
        ...

    async def retry_after(self, caller: str) -> int | None:
        """Without counting, return None when under the limit, else seconds to wait."""
        ...


def _wait(window: int, window_seconds: int, now: float) -> int:
    return max(1, int((window + 1) * window_seconds - now) + 1)


class InProcessRateLimiter:
    """Counters in this process's memory.

    Args:
        per_minute: Hits allowed per caller per window.
        window_seconds: Length of a window in seconds.
    """

    def __init__(self, per_minute: int, *, window_seconds: int = 60) -> None:
        self._limit = per_minute
        self._seconds = window_seconds
        self._window = -1
        self._counts: dict[str, int] = {}

    def _roll(self, now: float) -> int:
        window = int(now // self._seconds)
        if window != self._window:
            self._window = window
            self._counts.clear()
        return window

    async def hit(self, caller: str) -> int | None:
        """Count one hit; return None when allowed, else seconds to wait."""
        now = time.time()
        window = self._roll(now)
        count = self._counts.get(caller, 0) + 1
        self._counts[caller] = count
        if count <= self._limit:
            return None
        return _wait(window, self._seconds, now)

    async def retry_after(self, caller: str) -> int | None:
        """Without counting, return None when under the limit, else seconds to wait."""
        now = time.time()
        window = self._roll(now)
        if self._counts.get(caller, 0) < self._limit:
            return None
        return _wait(window, self._seconds, now)


class RedisRateLimiter:
    """Counters shared by every process through Redis.

    Args:
        client: The Redis client.
        per_minute: Hits allowed per caller per window.
        prefix: Key prefix (keys are ``{prefix}ratelimit:{caller}:{window}``).
        window_seconds: Length of a window in seconds.
    """

    def __init__(
        self, client: Redis, per_minute: int, prefix: str, *, window_seconds: int = 60
    ) -> None:
        self._client = client
        self._limit = per_minute
        self._prefix = prefix
        self._seconds = window_seconds

    def _key(self, caller: str, window: int) -> str:
        return f"{self._prefix}ratelimit:{caller}:{window}"

    async def hit(self, caller: str) -> int | None:
        """Count one hit; return None when allowed, else seconds to wait.

        Raises:
            DependencyUnavailableError: Redis cannot be reached.
        """
        now = time.time()
        window = int(now // self._seconds)
        key = self._key(caller, window)
        with wrap_redis_errors("rate limit INCR"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, self._seconds * 2)
                count, _ = await pipe.execute()
        if int(count) <= self._limit:
            return None
        return _wait(window, self._seconds, now)

    async def retry_after(self, caller: str) -> int | None:
        """Without counting, return None when under the limit, else seconds to wait.

        Raises:
            DependencyUnavailableError: Redis cannot be reached.
        """
        now = time.time()
        window = int(now // self._seconds)
        with wrap_redis_errors("rate limit GET"):
            raw = await self._client.get(self._key(caller, window))
        if raw is None or int(raw) < self._limit:
            return None
        return _wait(window, self._seconds, now)
