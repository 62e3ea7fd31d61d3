"""The Task Queue API server: the contract of ``taskqueue-sdk`` on SQLite or PostgreSQL, with
worker leases, signed webhooks and necrostack events.

Run it with ``taskqueue-server serve``; embed it with :func:`create_server_app`.
"""

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
