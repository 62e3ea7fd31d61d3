"""Async and sync clients, CLI and webhook receiver for the Task Queue API.

``taskqueue.models`` is the wire contract the server implements; ``taskqueue.webhooks``
signs and verifies webhook requests. ``WebhookHandler`` (the FastAPI receiver) lives in
``taskqueue.receiver`` and needs the ``taskqueue-sdk[webhooks]`` extra.
"""

from taskqueue.async_client import AsyncTaskQueueClient
from taskqueue.errors import (
    APIError,
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    ConnectionError,
    LeaseLostError,
    NotFoundError,
    PayloadTooLargeError,
    ProjectNotFoundError,
    RateLimitError,
    TaskNotFoundError,
    TaskQueueError,
    TimeoutError,
    ValidationError,
    WebhookVerificationError,
)
from taskqueue.models import (
    BatchResult,
    ClaimedTask,
    Project,
    ProjectStatus,
    Stats,
    Task,
    TaskCreateRequest,
    TaskFilters,
    TaskList,
    TaskPriority,
    TaskResult,
    TaskStatus,
    TaskType,
    TaskUpdateRequest,
    WebhookEvent,
    WebhookEventType,
)
from taskqueue.retry import RetryConfig
from taskqueue.settings import ClientSettings
from taskqueue.sync_client import TaskQueueClient
from taskqueue.webhooks import generate_secret, sign_webhook, verify_webhook, webhook_headers

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AsyncTaskQueueClient",
    "AuthenticationError",
    "AuthorizationError",
    "BatchResult",
    "ClaimedTask",
    "ClientSettings",
    "ConflictError",
    "ConnectionError",
    "LeaseLostError",
    "NotFoundError",
    "PayloadTooLargeError",
    "Project",
    "ProjectNotFoundError",
    "ProjectStatus",
    "RateLimitError",
    "RetryConfig",
    "Stats",
    "Task",
    "TaskCreateRequest",
    "TaskFilters",
    "TaskList",
    "TaskNotFoundError",
    "TaskPriority",
    "TaskQueueClient",
    "TaskQueueError",
    "TaskResult",
    "TaskStatus",
    "TaskType",
    "TaskUpdateRequest",
    "TimeoutError",
    "ValidationError",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookVerificationError",
    "__version__",
    "generate_secret",
    "sign_webhook",
    "verify_webhook",
    "webhook_headers",
]
