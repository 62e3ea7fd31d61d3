"""The errors the SDK raises.

Hierarchy::

    PlatformError (platform_core)
    └── TaskQueueError               root; str is "[code] message", code = HTTP status or a kind
        ├── ValidationError          422, or a request the SDK rejected before sending
        ├── AuthenticationError      401: no API key, or a wrong one
        ├── AuthorizationError       403: the key may not do this
        ├── NotFoundError            404 on a route that is not a task or project
        │   ├── TaskNotFoundError    404 for a task id
        │   └── ProjectNotFoundError 404 for a project id
        ├── ConflictError            409: bad state transition, idempotency key reused
        │   └── LeaseLostError       409: the lease token is no longer the task's lease
        ├── PayloadTooLargeError     413: the body is over the server's limit
        ├── RateLimitError           429; retry_after holds the server's Retry-After
        ├── APIError                 any other error status (5xx after retries)
        ├── ConnectionError          the server could not be reached (after retries)
        ├── TimeoutError             the request or a wait timed out
        └── WebhookVerificationError a webhook's signature or timestamp did not check out

Transport exceptions (httpx) are never raised directly; they are kept as ``__cause__``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from platform_core.errors import PlatformError
from taskqueue.models.common import FieldError, ProblemDetails

__all__ = [
    "APIError",
    "AuthenticationError",
    "AuthorizationError",
    "ConflictError",
    "ConnectionError",
    "LeaseLostError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ProjectNotFoundError",
    "RateLimitError",
    "TaskNotFoundError",
    "TaskQueueError",
    "TimeoutError",
    "ValidationError",
    "WebhookVerificationError",
]


class TaskQueueError(PlatformError):
    """Root of every error the SDK raises.

    Args:
        message: What went wrong and what to do.
        status_code: The HTTP status, when the server answered.
        response_data: The decoded error body (usually RFC 9457 problem details).
    """

    code: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        response_data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.response_data = response_data

    def __str__(self) -> str:
        code = self.status_code if self.status_code is not None else self.code
        return f"[{code}] {self.message}"

    @property
    def problem(self) -> ProblemDetails | None:
        """The response body as problem details, when it was one."""
        if not self.response_data or "title" not in self.response_data:
            return None
        try:
            return ProblemDetails.model_validate(
                {"status": self.status_code or 500, **self.response_data}
            )
        except ValueError:
            return None


class ValidationError(TaskQueueError):
    """The request was invalid: the server answered 422, or the SDK refused to send it.

    ``errors`` lists the invalid fields with their locations.
    """

    code = "invalid"

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        response_data: dict[str, Any] | None = None,
        *,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(message, status_code, response_data)
        if errors is None:
            problem = self.problem
            errors = list(problem.errors or []) if problem else []
        self.errors = errors


class AuthenticationError(TaskQueueError):
    """401: the API key is missing or wrong. Set ``api_key`` or ``TASKQUEUE_API_KEY``."""

    code = "unauthenticated"


class AuthorizationError(TaskQueueError):
    """403: the API key is valid but may not do this."""

    code = "forbidden"


class NotFoundError(TaskQueueError):
    """404 on a route that is not a task or a project (a webhook, a delivery)."""

    code = "not_found"


class TaskNotFoundError(NotFoundError):
    """404: no task has this id."""


class ProjectNotFoundError(NotFoundError):
    """404: no project has this id."""


class ConflictError(TaskQueueError):
    """409: the task is in a state that does not allow this, or an idempotency key was reused
    with a different body."""

    code = "conflict"


class LeaseLostError(ConflictError):
    """409: the lease this report presented is no longer the task's current one (it expired
    and was handed back or re-issued, or the task was cancelled). Stop working on the task:
    another worker may hold it now."""

    code = "lease_lost"


class PayloadTooLargeError(TaskQueueError):
    """413: the request body is over the server's limit; send fewer items per batch."""

    code = "too_large"


class RateLimitError(TaskQueueError):
    """429 after the retries ran out.

    Args:
        message: What happened.
        status_code: 429.
        response_data: The problem body.
        retry_after: Seconds the server asked to wait, when it said.
    """

    code = "rate_limited"

    def __init__(
        self,
        message: str,
        status_code: int | None = 429,
        response_data: dict[str, Any] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code, response_data)
        self.retry_after = retry_after


class APIError(TaskQueueError):
    """Any other error status from the server (5xx once the retries ran out)."""

    code = "api_error"


class ConnectionError(TaskQueueError):
    """The server could not be reached (refused, reset, DNS) after the retries."""

    code = "connection"


class TimeoutError(TaskQueueError):
    """A request timed out after the retries, or a wait passed its deadline."""

    code = "timeout"


class WebhookVerificationError(TaskQueueError):
    """A webhook request failed verification; answer it with 400 and do not act on it."""

    code = "webhook"
