# Generated from taskqueue/_async_core.py by scripts/unasync_sdk.py: do not edit.
# Change the async source, then run `python scripts/unasync_sdk.py` (the test
# test_generated_sync_client_is_current fails while this file is stale).
"""The sync client's base: construction, the transport, and the retrying send."""

from __future__ import annotations

import logging
import time
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
from taskqueue._transports import sync_transport
from taskqueue.retry import RetryConfig

T = TypeVar("T")
# A standard-library logger, so the warning reads as a sentence under any logging set-up; the
# fields go along as ``extra`` (platform_core's formatter adds them as key-values).
_log = logging.getLogger("taskqueue.client")


class SyncClientCore:
    """Construction, the transport and the retrying send behind every sync call.

    See :class:`~taskqueue.TaskQueueClient` for the arguments.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_connections: int | None = None,
        retry: RetryConfig | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        transport: str | None = None,
    ) -> None:
        opts = resolve(base_url, api_key, timeout, max_connections, retry, headers)
        self.base_url = opts.base_url
        self.retry = opts.retry
        self._transport = sync_transport(transport, opts, http_client)
        self.transport: str = self._transport.name
        """The HTTP stack in use: ``"httpx"`` or ``"aiohttp"``."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (an ``http_client`` passed in is left open)."""
        self._transport.close()

    def _send(self, call: Call[T], retry: RetryConfig | None = None) -> T:
        policy = retry or self.retry
        headers = call.headers()
        content = call.content()
        if content is not None:
            headers = {**headers, "Content-Type": "application/json"}
        retry_number = 0
        while True:
            cause: BaseException | None = None
            try:
                response = self._transport.request(
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
            time.sleep(wait)


def _parse(call: Call[T], response: RawResponse) -> T:
    try:
        return call.parse(response.content)
    except PydanticValidationError as exc:
        raise errors.APIError(
            f"{call.method} {call.path}: the server's answer does not match the API contract "
            f"({exc.error_count()} error(s)); is the SDK version compatible with the server?",
            response.status_code,
        ) from exc
