"""Retrying retryable LLM failures with capped exponential backoff and jitter."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from draft_service.errors import LLMUnavailableError
from platform_core.logging import get_logger

__all__ = ["backoff_delay", "with_retries"]

T = TypeVar("T")
_log = get_logger("draft_service.llm")


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): full jitter under ``base * 2**n``."""
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    base: float,
    cap: float,
    on_retry: Callable[[int, LLMUnavailableError], Awaitable[None]] | None = None,
) -> T:
    """Run ``call`` until it succeeds, retrying :class:`LLMUnavailableError` (and timeouts).

    Args:
        call: The operation.
        attempts: Total attempts, at least 1.
        base: First backoff in seconds.
        cap: Longest backoff in seconds.
        on_retry: Awaited with the attempt number and error before each wait.

    Raises:
        LLMUnavailableError: the last attempt's error when every attempt failed.
        LLMRequestError: immediately, since retrying a refused request cannot help.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except LLMUnavailableError as exc:
            if attempt >= attempts:
                raise
            delay = backoff_delay(attempt, base, cap)
            _log.warning("llm_retry", attempt=attempt, of=attempts, delay=delay, error=str(exc))
            if on_retry is not None:
                await on_retry(attempt, exc)
            await asyncio.sleep(delay)
            attempt += 1
