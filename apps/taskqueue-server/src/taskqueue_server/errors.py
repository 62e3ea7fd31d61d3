"""Errors raised by the Task Queue server.

Hierarchy::

    PlatformError                         (platform_core)
    └── TaskQueueServerError              root of this app's deliberate errors
        ├── NotFoundError                 a task, project, webhook or delivery id is unknown (404)
        ├── ConflictError                 the request contradicts the stored state (409)
        │   ├── InvalidTransitionError    a task status change the state machine forbids
        │   ├── IdempotencyConflictError  an Idempotency-Key reused with another body
        │   └── IdempotencyInProgressError  the first request with that key is still running
        ├── LeaseError                    a worker call on a task it does not hold (409)
        ├── InvalidCursorError            a list ``cursor`` the server did not issue (400)
        ├── AuthenticationError           missing or unknown API key (401)
        ├── ForbiddenError                the key's role or project restriction forbids it (403)
        ├── RateLimitedError              the key (or address) exceeded its budget (429)
        ├── InvalidInputError             a value that cannot be stored, or over a limit (422)
        └── UnsafeWebhookURLError         a webhook URL resolves to a refused address (422)

Each error carries the HTTP ``status`` the API answers with, so the routes map them to RFC 9457
problem details in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from platform_core.errors import PlatformError
from taskqueue.models.workers import LEASE_LOST_TYPE

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "ForbiddenError",
    "IdempotencyConflictError",
    "IdempotencyInProgressError",
    "InvalidCursorError",
    "InvalidIdempotencyKeyError",
    "InvalidInputError",
    "InvalidTransitionError",
    "LeaseError",
    "NotFoundError",
    "RateLimitedError",
    "TaskQueueServerError",
    "UnsafeWebhookURLError",
]


class TaskQueueServerError(PlatformError):
    """Root of every error the server raises on purpose.

    Args:
        message: What was wrong and what to do about it.
        **extra: Additional members for the problem-details body.
    """

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    type: ClassVar[str] = "about:blank"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFoundError(TaskQueueServerError):
    """The addressed resource does not exist.

    Args:
        kind: ``"task"``, ``"project"``, ``"webhook"`` or ``"delivery"``.
        ident: The id that was asked for.
    """

    status = 404
    title = "Not found"

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(
            f"{kind} {ident} not found; check the id (list {kind}s to see which exist)",
            resource=kind,
            id=str(ident),
        )
        self.kind = kind


class ConflictError(TaskQueueServerError):
    """The request conflicts with the current state of the resource."""

    status = 409
    title = "Conflict"


class InvalidTransitionError(ConflictError):
    """A task cannot move from its current status to the requested one.

    Args:
        current: The task's status now.
        requested: The status that was asked for.
        allowed: The statuses reachable from ``current``.
        reason: Why, when the transition itself is allowed but a precondition is not met.
    """

    title = "Invalid state transition"

    def __init__(
        self, current: str, requested: str, allowed: Sequence[str], reason: str | None = None
    ) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none (the status is final)"
        why = reason or f"allowed from {current}: {allowed_text}"
        super().__init__(
            f"cannot move a task from {current} to {requested}; {why}",
            current_status=current,
            requested_status=requested,
            allowed_transitions=list(allowed),
        )
        self.allowed = list(allowed)


class IdempotencyConflictError(ConflictError):
    """The ``Idempotency-Key`` was already used for a request with a different body."""

    title = "Idempotency key reused"


class IdempotencyInProgressError(ConflictError):
    """The first request with this ``Idempotency-Key`` has not finished yet.

    Answered with ``Retry-After``: a retry once it finished gets its response (or runs the
    request, when the first one failed).

    Args:
        key: The ``Idempotency-Key``.
        retry_after: Whole seconds to wait before retrying.
    """

    title = "Idempotent request in progress"

    def __init__(self, key: str, retry_after: int = 1) -> None:
        super().__init__(
            f"a request with Idempotency-Key {key!r} is still in progress; retry after "
            f"{retry_after} s to get its response",
            idempotency_key=key,
            retry_after=retry_after,
        )
        self.retry_after = retry_after


class LeaseError(ConflictError):
    """A worker reported with a lease token that is not the task's current lease (it expired
    and was handed back or re-issued, or the task was cancelled)."""

    title = "Lease lost"
    type = LEASE_LOST_TYPE


class InvalidIdempotencyKeyError(TaskQueueServerError):
    """The ``Idempotency-Key`` header is longer than the server keeps."""

    status = 400
    title = "Invalid Idempotency-Key"


class InvalidCursorError(TaskQueueServerError):
    """A list route's ``cursor`` is malformed, altered, or was issued for other filters.

    Args:
        problem: What is wrong with the cursor (the message starts with "cursor ").
    """

    status = 400
    title = "Invalid cursor"

    def __init__(self, problem: str) -> None:
        message = f"cursor {problem}"
        super().__init__(
            message, errors=[{"loc": ["query", "cursor"], "msg": message, "type": "value_error"}]
        )


class AuthenticationError(TaskQueueServerError):
    """No API key, or one that is unknown or revoked."""

    status = 401
    title = "Unauthorized"


class RateLimitedError(TaskQueueServerError):
    """The API key used up its request budget for the current window.

    Args:
        retry_after: Whole seconds until a request will be accepted again.
    """

    status = 429
    title = "Too many requests"

    def __init__(self, retry_after: int, reason: str = "rate limit exceeded") -> None:
        super().__init__(f"{reason}; retry after {retry_after} s", retry_after=retry_after)
        self.retry_after = retry_after


class ForbiddenError(TaskQueueServerError):
    """The key is valid but its role (or project restriction) does not allow this."""

    status = 403
    title = "Forbidden"


class InvalidInputError(TaskQueueServerError):
    """A value that cannot be stored and read back (NUL, lone surrogate, too deep) or that is
    over a configured limit; nothing was written.

    Args:
        path: Where the value is, e.g. ``body.metadata.a[3]``.
        reason: What is wrong with it.
    """

    status = 422
    title = "Invalid value"

    def __init__(self, path: str, reason: str) -> None:
        loc: list[str | int] = [path]
        super().__init__(
            f"{path} {reason}", errors=[{"loc": loc, "msg": reason, "type": "value_error"}]
        )
        self.path = path
        self.reason = reason


class UnsafeWebhookURLError(TaskQueueServerError):
    """A webhook URL is not http(s) or resolves to a private, loopback or reserved address."""

    status = 422
    title = "Unsafe webhook URL"
