"""Async and sync clients, CLI and webhook receiver for the Task Queue API.

``taskqueue.models`` is the wire contract the server implements; ``taskqueue.webhooks``
signs and verifies webhook requests. ``WebhookHandler`` (the FastAPI receiver) lives in
``taskqueue.receiver`` and needs the ``taskqueue-sdk[webhooks]`` extra.

Names are imported on first use (PEP 562): ``import taskqueue`` loads neither httpx nor the
pydantic wire models; they load with the first client, model or error a program touches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platform_core.lazy import lazy_exports

if TYPE_CHECKING:
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
    from taskqueue.webhooks import (
        generate_secret,
        sign_webhook,
        verify_webhook,
        webhook_headers,
    )

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

_EXPORTS = {
    "APIError": "taskqueue.errors",
    "AsyncTaskQueueClient": "taskqueue.async_client",
    "AuthenticationError": "taskqueue.errors",
    "AuthorizationError": "taskqueue.errors",
    "BatchResult": "taskqueue.models",
    "ClaimedTask": "taskqueue.models",
    "ClientSettings": "taskqueue.settings",
    "ConflictError": "taskqueue.errors",
    "ConnectionError": "taskqueue.errors",
    "LeaseLostError": "taskqueue.errors",
    "NotFoundError": "taskqueue.errors",
    "PayloadTooLargeError": "taskqueue.errors",
    "Project": "taskqueue.models",
    "ProjectNotFoundError": "taskqueue.errors",
    "ProjectStatus": "taskqueue.models",
    "RateLimitError": "taskqueue.errors",
    "RetryConfig": "taskqueue.retry",
    "Stats": "taskqueue.models",
    "Task": "taskqueue.models",
    "TaskCreateRequest": "taskqueue.models",
    "TaskFilters": "taskqueue.models",
    "TaskList": "taskqueue.models",
    "TaskNotFoundError": "taskqueue.errors",
    "TaskPriority": "taskqueue.models",
    "TaskQueueClient": "taskqueue.sync_client",
    "TaskQueueError": "taskqueue.errors",
    "TaskResult": "taskqueue.models",
    "TaskStatus": "taskqueue.models",
    "TaskType": "taskqueue.models",
    "TaskUpdateRequest": "taskqueue.models",
    "TimeoutError": "taskqueue.errors",
    "ValidationError": "taskqueue.errors",
    "WebhookEvent": "taskqueue.models",
    "WebhookEventType": "taskqueue.models",
    "WebhookVerificationError": "taskqueue.errors",
    "generate_secret": "taskqueue.webhooks",
    "sign_webhook": "taskqueue.webhooks",
    "verify_webhook": "taskqueue.webhooks",
    "webhook_headers": "taskqueue.webhooks",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
