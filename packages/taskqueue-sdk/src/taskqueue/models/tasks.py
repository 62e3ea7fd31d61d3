"""Tasks on the wire: the task itself, its result and phases, requests, filters and pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from taskqueue.models.base import NonBlank, RequestModel, UpdateModel, WireModel, as_utc
from taskqueue.models.enums import TaskPriority, TaskStatus, TaskType

__all__ = [
    "REDACTED",
    "AdvancePhaseRequest",
    "CancelRequest",
    "Phase",
    "Task",
    "TaskCreateRequest",
    "TaskFilters",
    "TaskList",
    "TaskResult",
    "TaskUpdateRequest",
]

Timeout = Annotated[
    int, Field(gt=0, le=7 * 24 * 3600, description="Seconds before the run is killed.")
]
RetryAttempts = Annotated[int, Field(ge=0, le=100, description="Extra runs after a failure.")]
RetryDelay = Annotated[float, Field(ge=0, le=24 * 3600, description="Seconds between runs.")]
Reviews = Annotated[int, Field(ge=0, le=100)]
OUTPUT_TAIL_CHARS = 65_536
"""The longest stdout/stderr tail a result carries; workers keep the end of the output."""


class TaskResult(WireModel):
    """The outcome of running a task's command.

    Attributes:
        exit_code: The process exit code; None when it never ran or was killed by a signal.
        stdout: The last characters of standard output.
        stderr: The last characters of standard error.
        error: Why it failed when the exit code does not say (timeout, could not start...).
        duration: Seconds the run took.
    """

    exit_code: int | None = None
    stdout: str = Field(default="", max_length=OUTPUT_TAIL_CHARS)
    stderr: str = Field(default="", max_length=OUTPUT_TAIL_CHARS)
    error: str | None = None
    duration: float | None = Field(default=None, ge=0)


class Phase(WireModel):
    """One workflow phase a task went through.

    Attributes:
        phase: The phase (one of the workflow statuses).
        started_at: When the task entered the phase.
        completed_at: When it left it; None while current.
        documentation: Notes recorded when the phase was completed.
        artifacts: Paths or URLs produced in the phase.
    """

    phase: TaskStatus
    started_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    documentation: str | None = None
    artifacts: list[str] = Field(default_factory=list)


REDACTED = "[redacted]"
"""How a secret environment value reads in every answer but the claim response."""


class Task(WireModel):
    """A task as the server stores and returns it.

    Attributes:
        id: The task's id.
        name: A short human name.
        command: The shell command a worker runs.
        description: Free text.
        technical_specs: Free text describing how to do it.
        acceptance_criteria: What must hold for the task to be done.
        task_type: Simple, Workflow or Scheduled.
        priority: Low, Normal, High or Critical.
        project_id: The project it belongs to, if any.
        dependencies: Ids of tasks that must complete before this one is runnable.
        timeout: Seconds a run may take; None for no limit.
        retry_attempts: How many more runs follow a failed one.
        retry_delay: Seconds to wait between runs.
        environment: Extra environment variables for the command.
        secret_environment: Environment variables whose values are secret: every answer
            shows each value as ``REDACTED`` except the claim response, which gives the real
            values to the worker that holds the lease.
        working_directory: Where the command runs; None for the worker's directory.
        created_at: When it was created.
        updated_at: When it last changed.
        status: Pending when created for execution, or the current workflow phase.
        result: The last run's outcome.
        phases: The workflow phases so far.
        current_phase: The phase the task is in, for workflow tasks.
        ai_reviews_required: Reviews needed to leave the AIReview phase.
        ai_reviews_completed: Reviews done so far.
        metadata: Free-form JSON.
        attempts: Runs started so far.
        worker_id: The worker holding the task's lease, while Running.
        lease_expires_at: When that lease lapses unless heartbeated.
        run_after: While Pending after a failed attempt: when it becomes runnable again.
    """

    id: UUID
    name: NonBlank
    command: NonBlank
    description: str | None = None
    technical_specs: str | None = None
    acceptance_criteria: list[str] = Field(default_factory=list)
    task_type: TaskType = TaskType.SIMPLE
    priority: TaskPriority = TaskPriority.NORMAL
    project_id: UUID | None = None
    dependencies: list[UUID] = Field(default_factory=list)
    timeout: Timeout | None = None
    retry_attempts: RetryAttempts = 3
    retry_delay: RetryDelay = 30.0
    environment: dict[str, str] = Field(default_factory=dict)
    secret_environment: dict[str, str] = Field(default_factory=dict)
    working_directory: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    status: TaskStatus = TaskStatus.PENDING
    result: TaskResult | None = None
    phases: list[Phase] = Field(default_factory=list)
    current_phase: TaskStatus | None = None
    ai_reviews_required: Reviews = 3
    ai_reviews_completed: Reviews = 0
    metadata: dict[str, Any] = Field(default_factory=dict)
    attempts: int = Field(default=0, ge=0)
    worker_id: str | None = None
    lease_expires_at: AwareDatetime | None = None
    run_after: AwareDatetime | None = None

    @property
    def is_terminal(self) -> bool:
        """True when the task will not change state again."""
        return self.status.is_terminal


def _unique_ids(value: list[UUID]) -> list[UUID]:
    if len(set(value)) != len(value):
        raise ValueError("must not list the same task twice")
    return value


Dependencies = Annotated[
    list[UUID], AfterValidator(_unique_ids), Field(json_schema_extra={"uniqueItems": True})
]


class TaskCreateRequest(RequestModel):
    """The body of ``POST /api/tasks`` (and each item of ``POST /api/tasks/batch``).

    Workflow tasks start in ``Planning``; every other type starts ``Pending``.
    See :class:`Task` for the meaning of each field.
    """

    name: NonBlank = Field(max_length=255)
    command: NonBlank
    description: str | None = None
    technical_specs: str | None = None
    acceptance_criteria: list[str] = Field(default_factory=list)
    task_type: TaskType = TaskType.SIMPLE
    priority: TaskPriority = TaskPriority.NORMAL
    project_id: UUID | None = None
    dependencies: Dependencies = Field(default_factory=list)
    timeout: Timeout | None = None
    retry_attempts: RetryAttempts = 3
    retry_delay: RetryDelay = 30.0
    environment: dict[str, str] = Field(default_factory=dict)
    secret_environment: dict[str, str] = Field(default_factory=dict)
    working_directory: str | None = None
    ai_reviews_required: Reviews = 3
    metadata: dict[str, Any] = Field(default_factory=dict)


class TaskUpdateRequest(UpdateModel):
    """The body of ``PATCH /api/tasks/{id}``: only the fields that were set are sent.

    State changes go through their own routes (cancel, advance-phase, the worker calls), so
    ``status`` is not updatable here. Fields that may be cleared with ``None`` are listed in
    ``nullable``.
    """

    nullable: ClassVar[frozenset[str]] = frozenset(
        {"description", "technical_specs", "project_id", "timeout", "working_directory"}
    )

    name: NonBlank | None = Field(default=None, max_length=255)
    command: NonBlank | None = None
    description: str | None = None
    technical_specs: str | None = None
    acceptance_criteria: list[str] | None = None
    priority: TaskPriority | None = None
    project_id: UUID | None = None
    dependencies: Dependencies | None = None
    timeout: Timeout | None = None
    retry_attempts: RetryAttempts | None = None
    retry_delay: RetryDelay | None = None
    environment: dict[str, str] | None = None
    secret_environment: dict[str, str] | None = None
    working_directory: str | None = None
    ai_reviews_required: Reviews | None = None
    metadata: dict[str, Any] | None = None


class CancelRequest(RequestModel):
    """The optional body of ``POST /api/tasks/{id}/cancel``."""

    reason: str | None = None


class AdvancePhaseRequest(RequestModel):
    """The optional body of ``POST /api/tasks/{id}/advance-phase``.

    Attributes:
        documentation: Notes recorded on the phase being completed.
        artifacts: Paths or URLs produced in that phase.
    """

    documentation: str | None = None
    artifacts: list[str] = Field(default_factory=list)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


class TaskFilters(RequestModel):
    """The filters of ``GET /api/tasks``; unset filters match everything.

    Naive datetimes are read as UTC.
    """

    status: TaskStatus | None = None
    project_id: UUID | None = None
    priority: TaskPriority | None = None
    task_type: TaskType | None = None
    created_after: Annotated[datetime | None, AfterValidator(_utc)] = None
    created_before: Annotated[datetime | None, AfterValidator(_utc)] = None

    @model_validator(mode="after")
    def _ordered_range(self) -> TaskFilters:
        if (
            self.created_after is not None
            and self.created_before is not None
            and self.created_after > self.created_before
        ):
            raise ValueError("created_after must not be later than created_before")
        return self

    def to_params(self) -> dict[str, str]:
        """Return the query parameters for the filters that are set."""
        dumped = self.model_dump(mode="json", exclude_none=True)
        return {key: str(value) for key, value in dumped.items()}


class TaskList(WireModel):
    """One page of ``GET /api/tasks``: iterate it for its tasks, ``len()`` it for their number.

    Attributes:
        tasks: The tasks on this page.
        total: How many tasks match the filters in all; counted on pages asked for without a
            cursor, None on cursor pages (counting would cost each page the whole list).
        limit: The page size that was asked for.
        offset: How many matching tasks come before this page (0 on cursor pages).
        next_cursor: Send it as ``cursor`` (with the same filters) for the next page; None on
            the last page.
    """

    tasks: list[Task]
    total: int | None = Field(default=None, ge=0)
    limit: int = Field(ge=0)
    offset: int = Field(default=0, ge=0)
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[Task]:  # type: ignore[override]
        """Iterate over this page's tasks (not pydantic's field pairs)."""
        return iter(self.tasks)

    def __len__(self) -> int:
        """The number of tasks on this page."""
        return len(self.tasks)

    def __getitem__(self, index: int) -> Task:
        """The task at ``index`` on this page."""
        return self.tasks[index]

    @property
    def has_more(self) -> bool:
        """True when matching tasks follow this page."""
        if self.next_cursor is not None:
            return True
        if self.total is None:
            return False
        return self.offset + len(self.tasks) < self.total
