"""SDK errors as the problem details MCP tool errors carry."""

from __future__ import annotations

from typing import Any

from taskqueue.errors import TaskQueueError, ValidationError

__all__ = ["problem_of"]


def problem_of(exc: TaskQueueError) -> dict[str, Any]:
    """The problem details of an SDK error, as a JSON-ready dict.

    The server's RFC 9457 body when it sent one (``title``, ``detail``, ``status`` and, for
    invalid input, ``errors`` naming each field); otherwise one built from the error (a
    connection failure, a request the SDK refused to send).

    Args:
        exc: The error the SDK raised.
    """
    problem = exc.problem
    if problem is not None:
        body = problem.model_dump(mode="json", exclude_none=True)
    else:
        body = {"title": type(exc).__name__, "detail": exc.message}
        if exc.status_code is not None:
            body["status"] = exc.status_code
    if isinstance(exc, ValidationError) and "errors" not in body and exc.errors:
        body["errors"] = [error.model_dump(mode="json") for error in exc.errors]
    return body
