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

__all__ = ["TRANSIENT", "CircuitBreaker", "call_resiliently"]

_log = get_logger("necrostack.backends.redis")
_T = TypeVar("_T")
TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)


class CircuitBreaker:
    """Shared backoff for every call of one backend while Redis fails.

    ``closed``: calls go through. After ``threshold`` connection failures in a row it opens:
    no call reaches Redis until the backoff (``base`` doubling per opening, capped at
    ``cap``) has passed; then one call probes (``half_open``); its success closes the
    circuit, its failure opens it again with a longer backoff.

    Args:
        threshold: Consecutive failures that open the circuit.
        base: First open period, seconds.
        cap: Longest open period, seconds.
    """

    def __init__(self, threshold: int = 3, base: float = 0.1, cap: float = 5.0) -> None:
        self.threshold = threshold
        self.base = base
        self.cap = cap
        self.failures = 0
        self.openings = 0
        self.retry_at = 0.0
        self.last_error: str | None = None
        self.opened_total = 0

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open``."""
        if self.failures < self.threshold:
            return "closed"
        return "open" if time.monotonic() < self.retry_at else "half_open"

    def wait_time(self) -> float:
        """Seconds until a call may reach Redis (0 when closed or half-open)."""
        if self.failures < self.threshold:
            return 0.0
        return max(0.0, self.retry_at - time.monotonic())

    def succeeded(self) -> None:
        """A call reached Redis: close the circuit."""
        if self.failures:
            if self.failures >= self.threshold:
                _log.warning("redis circuit closed", after_failures=self.failures)
            self.failures = 0
            self.openings = 0

    def failed(self, error: BaseException) -> float:
        """A call failed to reach Redis; returns the seconds to wait before the next try."""
        self.failures += 1
        self.last_error = repr(error)
        if self.failures < self.threshold:
            return min(self.base * 2.0 ** (self.failures - 1), self.cap)
        delay: float = min(self.base * 2.0**self.openings, self.cap)
        if self.failures == self.threshold:
            self.opened_total += 1
            _log.error("redis circuit open", error=self.last_error, retry_in_s=delay)
        self.openings += 1
        self.retry_at = time.monotonic() + delay
        return delay

    def snapshot(self) -> dict[str, object]:
        """State, consecutive failures, times opened and the last error."""
        return {
            "state": self.state,
            "consecutive_failures": self.failures,
            "opened_total": self.opened_total,
            "retry_in_s": round(self.wait_time(), 3),
            "last_error": self.last_error,
        }


async def call_resiliently(
    fn: Callable[[], Awaitable[_T]],
    *,
    what: str,
    give_up_after: float,
    on_disconnect: Callable[[], None],
    on_missing_group: Callable[[], Awaitable[None]],
    breaker: CircuitBreaker | None = None,
) -> _T:
    """Run ``fn``; on a connection error reconnect with backoff until ``give_up_after`` seconds
    have passed; when Redis reports NOGROUP (it restarted empty), recreate the group first.

    With a ``breaker``, the backoff is the breaker's, shared by every call of the backend: while
    it is open, no call reaches Redis, and a call whose wait would outlast its own deadline
    fails at once.

    Raises:
        DependencyUnavailableError: the connection kept failing for ``give_up_after`` seconds.
        BackendError: Redis refused the command for another reason.
    """
    breaker = breaker or CircuitBreaker()
    give_up = time.monotonic() + give_up_after
    while True:
        wait = breaker.wait_time()
        if wait:
            if time.monotonic() + wait > give_up:
                raise DependencyUnavailableError(
                    "redis",
                    f"{what}: the circuit is open after {breaker.failures} failed calls "
                    f"(last: {breaker.last_error}); check REDIS_URL",
                )
            await asyncio.sleep(wait)
        try:
            result = await fn()
        except ResponseError as exc:
            breaker.succeeded()  # Redis answered
            if "NOGROUP" not in str(exc):
                raise BackendError(f"{what} failed: {exc}") from exc
            _log.warning("consumer group missing; recreating", action=what)
            await on_missing_group()
            continue
        except TRANSIENT as exc:
            on_disconnect()
            delay = breaker.failed(exc)
            if time.monotonic() + delay > give_up:
                raise DependencyUnavailableError(
                    "redis", f"{what} kept failing for {give_up_after:g}s: {exc}; check REDIS_URL"
                ) from exc
            _log.warning("redis connection lost; reconnecting", action=what, error=repr(exc))
            if breaker.wait_time() == 0:
                await asyncio.sleep(delay)
            continue
        breaker.succeeded()
        return result
