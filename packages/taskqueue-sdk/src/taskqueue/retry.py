"""When to retry a request and how long to wait: jittered exponential backoff, Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["DEFAULT_RETRY_STATUSES", "RetryConfig", "parse_retry_after"]

DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryConfig:
    """How a client retries. Pass one to the client, or to a single call to override it.

    Retried: connection errors, timeouts and the ``statuses``. A ``POST`` is retried only when
    it carries an ``Idempotency-Key`` (the client adds one to every create), except for
    connection failures before the request was sent, which are always safe. A 404 is never
    retried. A 409 with ``Retry-After`` to a request with an ``Idempotency-Key`` is retried:
    the server is still running the first request with that key.

    Attributes:
        max_retries: Retries after the first attempt (0 disables retrying).
        backoff_base: Seconds before the first retry; doubles each time.
        backoff_max: The longest computed backoff.
        jitter: Wait a random time between half and all of the backoff, so many clients
            retrying together spread out.
        statuses: The HTTP statuses that are retried.
        respect_retry_after: Wait as long as a ``Retry-After`` header says.
        retry_after_max: The longest ``Retry-After`` honoured; longer values wait this long.
        retry_timeouts: Retry requests that timed out (POSTs only with an idempotency key).
    """

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    jitter: bool = True
    statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)
    respect_retry_after: bool = True
    retry_after_max: float = 60.0
    retry_timeouts: bool = True

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {self.max_retries}")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.retry_after_max < 0:
            raise ValueError("backoff_base, backoff_max and retry_after_max must not be negative")
        if 404 in self.statuses:
            raise ValueError("404 cannot be retried: a missing resource does not come back")

    @classmethod
    def none(cls) -> RetryConfig:
        """A config that never retries."""
        return cls(max_retries=0)

    def with_(self, **changes: object) -> RetryConfig:
        """Return a copy with ``changes`` applied (``RetryConfig().with_(max_retries=5)``)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Return the wait before retry ``retry_number`` (1 for the first retry).

        Args:
            retry_number: Which retry this is, from 1.
            rng: A random source (for tests); the module's when omitted.
        """
        raw: float = min(self.backoff_max, self.backoff_base * 2.0 ** (retry_number - 1))
        if not self.jitter:
            return raw
        draw: float = (rng or random).uniform(0.5, 1.0)
        return raw * draw

    def delay(self, retry_number: int, retry_after: float | None) -> float:
        """Return the wait before retry ``retry_number``, honouring ``retry_after`` if given.

        Args:
            retry_number: Which retry this is, from 1.
            retry_after: Seconds from a ``Retry-After`` header, if the response had one.
        """
        if retry_after is not None and self.respect_retry_after:
            return min(max(retry_after, 0.0), self.retry_after_max)
        return self.backoff(retry_number)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header: delay seconds or an HTTP date.

    Args:
        value: The header value.
        now: The current time (for tests); the clock when omitted.

    Returns:
        Seconds to wait (0 for a date in the past), or None when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max((when - current).total_seconds(), 0.0)
