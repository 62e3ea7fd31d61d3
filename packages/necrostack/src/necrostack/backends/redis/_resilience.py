"""Running one Redis operation through connection drops and a lost consumer group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from necrostack.errors import BackendError
from platform_core.errors import DependencyUnavailableError
from platform_core.logging import get_logger

__all__ = ["TRANSIENT", "call_resiliently"]

_log = get_logger("necrostack.backends.redis")
_T = TypeVar("_T")
TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)


async def call_resiliently(
    fn: Callable[[], Awaitable[_T]],
    *,
    what: str,
    give_up_after: float,
    on_disconnect: Callable[[], None],
    on_missing_group: Callable[[], Awaitable[None]],
) -> _T:
    """Run ``fn``; on a connection error reconnect with backoff until ``give_up_after`` seconds
    have passed; when Redis reports NOGROUP (it restarted empty), recreate the group first.

    Raises:
        DependencyUnavailableError: the connection kept failing for ``give_up_after`` seconds.
        BackendError: Redis refused the command for another reason.
    """
    give_up = time.monotonic() + give_up_after
    delay = 0.05
    while True:
        try:
            return await fn()
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise BackendError(f"{what} failed: {exc}") from exc
            _log.warning("consumer group missing; recreating", action=what)
            await on_missing_group()
        except TRANSIENT as exc:
            on_disconnect()
            if time.monotonic() + delay > give_up:
                raise DependencyUnavailableError(
                    "redis", f"{what} kept failing for {give_up_after:g}s: {exc}; check REDIS_URL"
                ) from exc
            _log.warning("redis connection lost; reconnecting", action=what, error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
