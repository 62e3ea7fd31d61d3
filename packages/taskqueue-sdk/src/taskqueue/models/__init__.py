"""The wire contract of the Task Queue API: every request and response body.

The server (``apps/taskqueue-server``) and the SDK both use these models, so the contract
lives in one place. Requests reject unknown fields; responses ignore them, so an older
client keeps reading a newer server.
"""

from taskqueue.models.common import (
    BatchCreateRequest,
    BatchItemResult,
    BatchResult,
    FieldError,
    ProblemDetails,
    Stats,
)
from taskqueue.models.enums import (
    TERMINAL_STATUSES,
    WORKFLOW_PHASES,
    ApiKeyRole,
    DeliveryStatus,
    ProjectStatus,
    TaskPriority,
    TaskStatus,
    TaskType,
    WebhookEventType,
    next_phase,
)
from taskqueue.models.keys import ApiKey, ApiKeyCreateRequest, ApiKeyList
from taskqueue.models.projects import (
    Project,
    ProjectCreateRequest,
    ProjectList,
    ProjectUpdateRequest,
)
from taskqueue.models.tasks import (
    REDACTED,
    AdvancePhaseRequest,
    CancelRequest,
    Phase,
    Task,
    TaskCreateRequest,
    TaskFilters,
    TaskList,
    TaskResult,
    TaskUpdateRequest,
)
from taskqueue.models.webhooks import (
    WebhookCreateRequest,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookDeliveryList,
    WebhookEvent,
    WebhookList,
    WebhookSubscription,
)
from taskqueue.models.workers import (
    CLAIM_WAIT_MAX_SECONDS,
    LEASE_LOST_TYPE,
    ClaimedTask,
    ClaimRequest,
    ClaimResponse,
    CompleteRequest,
    FailRequest,
    HeartbeatRequest,
    HeartbeatResponse,
)

__all__ = [
    "CLAIM_WAIT_MAX_SECONDS",
    "LEASE_LOST_TYPE",
    "ApiKey",
    "ApiKeyCreateRequest",
    "ApiKeyList",
    "REDACTED",
    "ApiKeyRole",
    "TERMINAL_STATUSES",
    "WORKFLOW_PHASES",
    "AdvancePhaseRequest",
    "BatchCreateRequest",
    "BatchItemResult",
    "BatchResult",
    "CancelRequest",
    "ClaimRequest",
    "ClaimResponse",
    "ClaimedTask",
    "CompleteRequest",
    "DeliveryStatus",
    "FailRequest",
    "FieldError",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "Phase",
    "ProblemDetails",
    "Project",
    "ProjectCreateRequest",
    "ProjectList",
    "ProjectStatus",
    "ProjectUpdateRequest",
    "Stats",
    "Task",
    "TaskCreateRequest",
    "TaskFilters",
    "TaskList",
    "TaskPriority",
    "TaskResult",
    "TaskStatus",
    "TaskType",
    "TaskUpdateRequest",
    "WebhookCreateRequest",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookDeliveryList",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookList",
    "WebhookSubscription",
    "next_phase",
]
