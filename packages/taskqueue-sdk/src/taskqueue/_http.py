"""What both clients share: request descriptions, the retry decision, error mapping."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
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


def stretched(client: httpx.Timeout, extra: float) -> httpx.Timeout:
    """The client's timeout, with the read timeout stretched by ``extra`` seconds."""
    if not extra or client.read is None:
        return client
    return httpx.Timeout(
        connect=client.connect,
        read=client.read + extra,
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


@dataclass(frozen=True)
class RawResponse:
    """An HTTP answer as every transport reports it (httpx or aiohttp).

    Attributes:
        status_code: The HTTP status.
        headers: The response headers (case-insensitive lookups).
        content: The body.
        reason_phrase: The status line's text.
    """

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    reason_phrase: str = ""

    @property
    def is_success(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status_code < 300


class TransportError(Exception):
    """A request that got no HTTP answer, classified the same way for every transport.

    Args:
        kind: ``"connect"`` (nothing reached the server), ``"pool"`` (no free connection in
            time), ``"timeout"`` (the request was sent, the answer did not come) or
            ``"other"`` (the connection broke).
        detail: The transport's own description.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass
class Outcome:
    """What one attempt produced: the error to raise and, if it may be retried, after how long.

    ``reason`` is how the retry warning names the failure ("503", "a timeout").
    """

    error: errors.TaskQueueError
    retryable: bool
    retry_after: float | None = None
    reason: str = "an error"


def classify_transport_error(exc: TransportError, call: Call[Any], policy: RetryConfig) -> Outcome:
    """Turn a transport failure into the SDK error and decide whether to retry."""
    what = f"{call.method} {call.path}"
    if exc.kind == "connect":
        # Nothing reached the server, so even a POST without a key is safe to send again.
        return Outcome(
            errors.ConnectionError(
                f"could not connect for {what}: {exc.detail}; is the server up?"
            ),
            retryable=True,
            reason="a connection error",
        )
    if exc.kind == "pool":
        return Outcome(
            errors.TimeoutError(
                f"no free connection for {what}; raise max_connections or lower concurrency"
            ),
            retryable=policy.retry_timeouts,
            reason="a wait for a free connection",
        )
    if exc.kind == "timeout":
        return Outcome(
            errors.TimeoutError(f"{what} timed out ({exc.detail}); raise timeout"),
            retryable=policy.retry_timeouts and call.replay_ok(),
            reason="a timeout",
        )
    return Outcome(
        errors.ConnectionError(f"connection failed during {what}: {exc.detail}"),
        retryable=call.replay_ok(),
        reason="a broken connection",
    )


def httpx_failure(exc: httpx.TransportError) -> TransportError:
    """Classify an httpx transport error."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        return TransportError("connect", detail)
    if isinstance(exc, httpx.PoolTimeout):
        return TransportError("pool", detail)
    if isinstance(exc, httpx.TimeoutException):
        return TransportError("timeout", type(exc).__name__)
    return TransportError("other", detail)


def retry_message(call: Call[Any], outcome: Outcome, wait: float, attempt: int, of: int) -> str:
    """The retry warning as a sentence: ``retrying GET /api/tasks in 0.5 s after 503
    (attempt 2 of 4)``; ``attempt`` is the one about to be sent."""
    return (
        f"retrying {call.method} {call.path} in {wait:.3g} s after {outcome.reason} "
        f"(attempt {attempt} of {of})"
    )


def _decode(response: RawResponse) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def error_from_response(response: RawResponse, call: Call[Any]) -> Outcome:
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
    return Outcome(error, retryable=False, retry_after=retry_after, reason=str(status))


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
