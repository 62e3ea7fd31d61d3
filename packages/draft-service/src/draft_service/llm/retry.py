"""Retrying retryable LLM failures: capped exponential backoff with jitter, ``Retry-After`` and
a total deadline."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from draft_service.errors import LLMTimeoutError, LLMUnavailableError
from platform_core.logging import get_logger

__all__ = ["backoff_delay", "with_retries"]

T = TypeVar("T")
_log = get_logger("draft_service.llm")


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): full jitter under ``base * 2**n``."""
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


async def with_retries(
    call: Callable[[float], Awaitable[T]],
    *,
    attempts: int,
    base: float,
    cap: float,
    deadline: float = float("inf"),
    timeout: float = float("inf"),  # noqa: ASYNC109 - per attempt, applied inside
    on_retry: Callable[[int, LLMUnavailableError], Awaitable[None]] | None = None,
) -> T:
    """Run ``call`` until it succeeds, retrying :class:`LLMUnavailableError` (and timeouts).

    ``call`` receives the seconds it may take: ``timeout``, or less when the deadline is near;
    it is cancelled when they run out (a streamed call then closes its connection). The wait
    before the next attempt is the server's ``Retry-After`` when it sent one, else the backoff;
    when the wait would end past the deadline, the last error is raised instead.

    Args:
        call: The operation, given its time budget in seconds.
        attempts: Total attempts, at least 1.
        base: First backoff in seconds.
        cap: Longest backoff in seconds (a longer ``Retry-After`` is still honoured).
        deadline: Seconds for every attempt and wait together.
        timeout: Seconds per attempt.
        on_retry: Awaited with the attempt number and error before each wait.

    Raises:
        LLMUnavailableError: the last attempt's error when no attempt succeeded in time.
        LLMRequestError: immediately, since retrying a refused request cannot help.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    attempt = 1
    error: LLMUnavailableError | None = None
    while True:
        budget = min(timeout, end - loop.time())
        if budget <= 0 and error is not None:
            raise error  # the wait overshot the deadline
        try:
            async with asyncio.timeout(budget):
                return await call(budget)
        except TimeoutError as exc:
            error = LLMTimeoutError(
                f"no complete answer within {budget:.3g} s; raise DRAFTS_LLM_TIMEOUT or "
                "DRAFTS_LLM_DEADLINE, or check the endpoint"
            )
            error.__cause__ = exc
        except LLMUnavailableError as exc:
            error = exc
        delay = error.retry_after if error.retry_after is not None else None
        delay = delay if delay is not None else backoff_delay(attempt, base, cap)
        if attempt >= attempts or loop.time() + delay >= end:
            raise error
        _log.warning("llm_retry", attempt=attempt, of=attempts, delay=delay, error=str(error))
        if on_retry is not None:
            await on_retry(attempt, error)
        await asyncio.sleep(delay)
        attempt += 1
