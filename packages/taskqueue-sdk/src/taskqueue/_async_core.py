"""The async client's base: construction, the transport, and the retrying send."""

from __future__ import annotations

import asyncio  # unasync: import time
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Self, TypeVar

import httpx
from pydantic import ValidationError as PydanticValidationError

from taskqueue import errors
from taskqueue._base import resolve
from taskqueue._http import (
    Call,
    RawResponse,
    TransportError,
    classify_transport_error,
    decide,
    error_from_response,
    retry_message,
)
from taskqueue._transports import async_transport
from taskqueue.retry import RetryConfig

T = TypeVar("T")
# A standard-library logger, so the warning reads as a sentence under any logging set-up; the
# fields go along as ``extra`` (platform_core's formatter adds them as key-values).
_log = logging.getLogger("taskqueue.client")


class AsyncClientCore:
    """Construction, the transport and the retrying send behind every async call.

    See :class:`~taskqueue.AsyncTaskQueueClient` for the arguments.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_connections: int | None = None,
        retry: RetryConfig | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: str | None = None,
    ) -> None:
        opts = resolve(base_url, api_key, timeout, max_connections, retry, headers)
        self.base_url = opts.base_url
        self.retry = opts.retry
        self._transport = async_transport(transport, opts, http_client)
        self.transport: str = self._transport.name
        """The HTTP stack in use: ``"httpx"`` or ``"aiohttp"``."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (an ``http_client`` passed in is left open)."""
        await self._transport.aclose()

    async def _send(self, call: Call[T], retry: RetryConfig | None = None) -> T:
        policy = retry or self.retry
        headers = call.headers()
        content = call.content()
        if content is not None:
            headers = {**headers, "Content-Type": "application/json"}
        retry_number = 0
        while True:
            cause: BaseException | None = None
            try:
                response = await self._transport.request(
                    call.method, call.path, content, call.params, headers, call.extra_timeout
                )
            except TransportError as exc:
                outcome = classify_transport_error(exc, call, policy)
                cause = exc.__cause__ or exc
            else:
                if response.is_success:
                    return _parse(call, response)
                outcome = decide(
                    error_from_response(response, call), response.status_code, call, policy
                )
            if not outcome.retryable or retry_number >= policy.max_retries:
                raise outcome.error from cause
            retry_number += 1
            wait = policy.delay(retry_number, outcome.retry_after)
            attempts = policy.max_retries + 1
            _log.warning(
                retry_message(call, outcome, wait, retry_number + 1, attempts),
                extra={
                    "method": call.method,
                    "path": call.path,
                    "attempt": retry_number + 1,
                    "max_attempts": attempts,
                    "wait": round(wait, 3),
                    "error": str(outcome.error),
                },
            )
            await asyncio.sleep(wait)


def _parse(call: Call[T], response: RawResponse) -> T:
    try:
        return call.parse(response.content)
    except PydanticValidationError as exc:
        raise errors.APIError(
            f"{call.method} {call.path}: the server's answer does not match the API contract "
            f"({exc.error_count()} error(s)); is the SDK version compatible with the server?",
            response.status_code,
        ) from exc
