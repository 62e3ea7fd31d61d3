"""The enumerations of the Task Queue API, with the workflow order and terminal states."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ApiKeyRole",
    "TERMINAL_STATUSES",
    "WORKFLOW_PHASES",
    "DeliveryStatus",
    "ProjectStatus",
    "TaskPriority",
    "TaskStatus",
    "TaskType",
    "WebhookEventType",
    "next_phase",
]


class TaskStatus(StrEnum):
    """Where a task is: a workflow phase or an execution state.

    Workflow tasks move through the phases ``Planning`` to ``Finalized`` (see
    :data:`WORKFLOW_PHASES`); tasks created for execution start ``Pending`` and end
    ``Completed``, ``Failed`` or ``Cancelled``.
    """

    PLANNING = "Planning"
    IMPLEMENTATION = "Implementation"
    TEST_CREATION = "TestCreation"
    TESTING = "Testing"
    AI_REVIEW = "AIReview"
    FINALIZED = "Finalized"
    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def is_terminal(self) -> bool:
        """True when the task will not change state again (see :data:`TERMINAL_STATUSES`)."""
        return self in TERMINAL_STATUSES

    @property
    def is_phase(self) -> bool:
        """True for the workflow phases ``Planning`` .. ``Finalized``."""
        return self in WORKFLOW_PHASES


class TaskPriority(StrEnum):
    """How urgent a task is; workers claim higher priorities first."""

    LOW = "Low"
    NORMAL = "Normal"
    HIGH = "High"
    CRITICAL = "Critical"

    @property
    def rank(self) -> int:
        """0 for ``Low`` up to 3 for ``Critical``, for ordering."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {
    TaskPriority.LOW: 0,
    TaskPriority.NORMAL: 1,
    TaskPriority.HIGH: 2,
    TaskPriority.CRITICAL: 3,
}


class TaskType(StrEnum):
    """What kind of task: a single command, a phased workflow, or a scheduled run."""

    SIMPLE = "Simple"
    WORKFLOW = "Workflow"
    SCHEDULED = "Scheduled"


class ProjectStatus(StrEnum):
    """The life cycle of a project."""

    PLANNING = "Planning"
    ACTIVE = "Active"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"
    ON_HOLD = "OnHold"


class WebhookEventType(StrEnum):
    """The events a webhook subscription can receive.

    Each event carries the task or project as the API returns it; ``*.deleted`` events carry
    it as it was just before it was deleted.
    """

    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_COMPLETED = "task.completed"
    TASK_FAILED = "task.failed"
    TASK_CANCELLED = "task.cancelled"
    TASK_DELETED = "task.deleted"
    PROJECT_CREATED = "project.created"
    PROJECT_UPDATED = "project.updated"
    PROJECT_DELETED = "project.deleted"


class DeliveryStatus(StrEnum):
    """The state of one webhook delivery."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


WORKFLOW_PHASES: tuple[TaskStatus, ...] = (
    TaskStatus.PLANNING,
    TaskStatus.IMPLEMENTATION,
    TaskStatus.TEST_CREATION,
    TaskStatus.TESTING,
    TaskStatus.AI_REVIEW,
    TaskStatus.FINALIZED,
)
"""The workflow phases in the order ``advance-phase`` moves through them."""

TERMINAL_STATUSES: frozenset[TaskStatus] = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.FINALIZED}
)
"""States a task never leaves. ``Finalized`` ends a workflow the way ``Completed`` ends a run."""


def next_phase(status: TaskStatus) -> TaskStatus | None:
    """Return the workflow phase after ``status``, or None when there is none.

    Args:
        status: The task's current status.

    Returns:
        The next phase; None for ``Finalized`` and for statuses that are not phases.
    """
    if status not in WORKFLOW_PHASES:
        return None
    index = WORKFLOW_PHASES.index(status)
    return WORKFLOW_PHASES[index + 1] if index + 1 < len(WORKFLOW_PHASES) else None


class ApiKeyRole(StrEnum):
    """What an API key may do within its tenant (``taskqueue-server create-api-key --role``).

    Every key belongs to one tenant and sees only that tenant's tasks, projects and webhooks
    (another tenant's id answers 404); a role outside its rights answers 403.
    """

    ADMIN = "admin"
    """Everything: tasks, projects, webhooks and their delivery logs, the worker routes."""
    PRODUCER = "producer"
    """Create, read, change, cancel and delete tasks; read projects and stats."""
    WORKER = "worker"
    """Claim tasks, heartbeat and report results; nothing else (no reads, no changes)."""
    READER = "reader"
    """Read tasks, projects and stats."""
