"""What both clients share: request descriptions, the retry decision, error mapping."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from taskqueue import errors
from taskqueue.models.workers import LEASE_LOST_TYPE
from taskqueue.retry import RetryConfig, parse_retry_after

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

USER_AGENT = "taskqueue-sdk/0.1.0"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API request: what to send, how to read the answer, which 404 error it raises."""

    method: str
    path: str
    parse: Callable[[bytes], T]
    body: Any = None
    params: dict[str, str] | None = None
    not_found: type[errors.NotFoundError] = errors.NotFoundError
    idempotency_key: str | None = None
    # True when repeating the request cannot do harm (GET, PATCH with values, heartbeat...).
    safe_to_repeat: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)
    # Seconds the server may hold the request on purpose (a long-polling claim): added to
    # the client's read timeout.
    extra_timeout: float = 0.0

    def headers(self) -> dict[str, str]:
        """The per-request headers (the idempotency key, reused across attempts)."""
        if self.idempotency_key is None:
            return self.extra_headers
        return {**self.extra_headers, "Idempotency-Key": self.idempotency_key}

    def content(self) -> bytes | None:
        """The encoded JSON body, or None."""
        if self.body is None:
            return None
        return json.dumps(self.body, separators=(",", ":")).encode()

    def replay_ok(self) -> bool:
        """True when this request may be sent again after an ambiguous failure.

        Every method but POST is idempotent by HTTP's definition; a POST only with a key
        (or when the route itself is idempotent, like a heartbeat).
        """
        return self.method != "POST" or self.safe_to_repeat or self.idempotency_key is not None


def request_timeout(client: httpx.Timeout, call: Call[Any]) -> httpx.Timeout:
    """The client's timeout, with the read timeout stretched by ``call.extra_timeout``."""
    if not call.extra_timeout or client.read is None:
        return client
    return httpx.Timeout(
        connect=client.connect,
        read=client.read + call.extra_timeout,
        write=client.write,
        pool=client.pool,
    )


def new_idempotency_key() -> str:
    """A fresh idempotency key."""
    return str(uuid.uuid4())


def model(cls: type[M]) -> Callable[[bytes], M]:
    """A parser that validates the response body as ``cls``."""
    return cls.model_validate_json


def nothing(_: bytes) -> None:
    """A parser for responses without a body (204)."""
    return None


@dataclass
class Outcome:
    """What one attempt produced: the error to raise and, if it may be retried, after how long."""

    error: errors.TaskQueueError
    retryable: bool
    retry_after: float | None = None


def classify_transport_error(
    exc: httpx.TransportError, call: Call[Any], policy: RetryConfig
) -> Outcome:
    """Turn an httpx transport failure into the SDK error and decide whether to retry."""
    what = f"{call.method} {call.path}"
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        # Nothing reached the server, so even a POST without a key is safe to send again.
        return Outcome(
            errors.ConnectionError(f"could not connect for {what}: {exc}; is the server up?"),
            retryable=True,
        )
    if isinstance(exc, httpx.PoolTimeout):
        return Outcome(
            errors.TimeoutError(
                f"no free connection for {what}; raise max_connections or lower concurrency"
            ),
            retryable=policy.retry_timeouts,
        )
    if isinstance(exc, httpx.TimeoutException):
        return Outcome(
            errors.TimeoutError(f"{what} timed out ({type(exc).__name__}); raise timeout"),
            retryable=policy.retry_timeouts and call.replay_ok(),
        )
    return Outcome(
        errors.ConnectionError(f"connection failed during {what}: {exc or type(exc).__name__}"),
        retryable=call.replay_ok(),
    )


def _decode(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def error_from_response(response: httpx.Response, call: Call[Any]) -> Outcome:
    """Map an error response to the SDK error and decide whether it may be retried."""
    data = _decode(response)
    status = response.status_code
    detail = None
    if data is not None:
        detail = data.get("detail") or data.get("title") or data.get("message")
    if not isinstance(detail, str) or not detail:
        detail = response.reason_phrase or f"HTTP {status}"
    message = f"{call.method} {call.path}: {detail}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    error: errors.TaskQueueError
    if status in (400, 422):
        error = errors.ValidationError(message, status, data)
    elif status == 401:
        error = errors.AuthenticationError(
            f"{message} (set api_key= or TASKQUEUE_API_KEY)", status, data
        )
    elif status == 403:
        error = errors.AuthorizationError(message, status, data)
    elif status == 404:
        error = call.not_found(message, status, data)
    elif status == 409 and data is not None and data.get("type") == LEASE_LOST_TYPE:
        error = errors.LeaseLostError(message, status, data)
    elif status == 409:
        error = errors.ConflictError(message, status, data)
    elif status == 413:
        error = errors.PayloadTooLargeError(message, status, data)
    elif status == 429:
        error = errors.RateLimitError(message, status, data, retry_after=retry_after)
    else:
        error = errors.APIError(message, status, data)
    return Outcome(error, retryable=False, retry_after=retry_after)


def decide(outcome: Outcome, status: int | None, call: Call[Any], policy: RetryConfig) -> Outcome:
    """Mark a status-code outcome retryable when the policy and the method allow it.

    A 409 with ``Retry-After`` to a request with an ``Idempotency-Key`` means the first
    request with that key is still running: asking again later gets its response.
    """
    if status == 409 and call.idempotency_key is not None and outcome.retry_after is not None:
        outcome.retryable = True
        return outcome
    if status is None or status == 404 or status not in policy.statuses:
        return outcome
    # A POST without an idempotency key may already have taken effect, so it is not repeated.
    outcome.retryable = call.replay_ok()
    return outcome
