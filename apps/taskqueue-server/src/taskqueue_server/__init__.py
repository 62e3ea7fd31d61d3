"""The Task Queue API server: the contract of ``taskqueue-sdk`` on SQLite or PostgreSQL, with
worker leases, signed webhooks and necrostack events.

Run it with ``taskqueue-server serve``; embed it with :func:`create_server_app`.

Names are imported on first use (PEP 562), so ``taskqueue-server --help`` does not load the
app (FastAPI, SQLAlchemy, the MCP server).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platform_core.lazy import lazy_exports

if TYPE_CHECKING:
    from taskqueue_server.app import create_server_app
    from taskqueue_server.errors import (
        AuthenticationError,
        ConflictError,
        IdempotencyConflictError,
        IdempotencyInProgressError,
        InvalidIdempotencyKeyError,
        InvalidTransitionError,
        LeaseError,
        NotFoundError,
        RateLimitedError,
        TaskQueueServerError,
        UnsafeWebhookURLError,
    )
    from taskqueue_server.runtime import Runtime
    from taskqueue_server.settings import ServerSettings

__version__ = "0.1.0"
__all__ = [
    "AuthenticationError",
    "ConflictError",
    "IdempotencyConflictError",
    "IdempotencyInProgressError",
    "InvalidIdempotencyKeyError",
    "InvalidTransitionError",
    "LeaseError",
    "NotFoundError",
    "RateLimitedError",
    "Runtime",
    "ServerSettings",
    "TaskQueueServerError",
    "UnsafeWebhookURLError",
    "__version__",
    "create_server_app",
]

_EXPORTS = {
    "AuthenticationError": "taskqueue_server.errors",
    "ConflictError": "taskqueue_server.errors",
    "IdempotencyConflictError": "taskqueue_server.errors",
    "IdempotencyInProgressError": "taskqueue_server.errors",
    "InvalidIdempotencyKeyError": "taskqueue_server.errors",
    "InvalidTransitionError": "taskqueue_server.errors",
    "LeaseError": "taskqueue_server.errors",
    "NotFoundError": "taskqueue_server.errors",
    "RateLimitedError": "taskqueue_server.errors",
    "Runtime": "taskqueue_server.runtime",
    "ServerSettings": "taskqueue_server.settings",
    "TaskQueueServerError": "taskqueue_server.errors",
    "UnsafeWebhookURLError": "taskqueue_server.errors",
    "create_server_app": "taskqueue_server.app",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
