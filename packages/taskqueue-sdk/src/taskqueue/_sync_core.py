"""The sync client's base: construction, the connection pool, and the retrying send."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import Self, TypeVar

import httpx
from pydantic import ValidationError as PydanticValidationError

from platform_core.logging import get_logger
from taskqueue import errors
from taskqueue._base import resolve
from taskqueue._http import (
    Call,
    classify_transport_error,
    decide,
    error_from_response,
    request_timeout,
)
from taskqueue.retry import RetryConfig

T = TypeVar("T")
_log = get_logger("taskqueue.client")


class SyncClientCore:
    """Construction, the connection pool and the retrying send behind every sync call.

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
    ) -> None:
        opts = resolve(base_url, api_key, timeout, max_connections, retry, headers)
        self.base_url = opts.base_url
        self.retry = opts.retry
        self._owns_http = http_client is None
        if http_client is None:
            http_client = httpx.Client(
                base_url=opts.base_url,
                headers=opts.headers,
                timeout=opts.timeout,
                limits=opts.limits,
            )
        else:
            http_client.headers.update(opts.headers)
        self._http = http_client

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
        """Close the connection pool (unless it was passed in)."""
        if self._owns_http:
            self._http.close()

    def _send(self, call: Call[T], retry: RetryConfig | None = None) -> T:
        policy = retry or self.retry
        headers = call.headers()
        content = call.content()
        if content is not None:
            headers = {**headers, "Content-Type": "application/json"}
        retry_number = 0
        while True:
            cause: Exception | None = None
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    content=content,
                    params=call.params,
                    headers=headers,
                    timeout=request_timeout(self._http.timeout, call),
                )
            except httpx.TransportError as exc:
                outcome = classify_transport_error(exc, call, policy)
                cause = exc
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
            _log.warning(
                "taskqueue.retry",
                method=call.method,
                path=call.path,
                attempt=retry_number,
                wait=round(wait, 3),
                error=str(outcome.error),
            )
            time.sleep(wait)


def _parse(call: Call[T], response: httpx.Response) -> T:
    try:
        return call.parse(response.content)
    except PydanticValidationError as exc:
        raise errors.APIError(
            f"{call.method} {call.path}: the server's answer does not match the API contract "
            f"({exc.error_count()} error(s)); is the SDK version compatible with the server?",
            response.status_code,
        ) from exc
