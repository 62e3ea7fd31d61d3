"""Problem details (RFC 9457), statistics and batch results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import AwareDatetime, ConfigDict, Field

from taskqueue.models.base import RequestModel, WireModel
from taskqueue.models.enums import ProjectStatus, TaskPriority, TaskStatus, TaskType
from taskqueue.models.tasks import Task, TaskCreateRequest

__all__ = [
    "BatchCreateRequest",
    "BatchItemResult",
    "BatchResult",
    "FieldError",
    "ProblemDetails",
    "Stats",
]

T = TypeVar("T")

BATCH_MAX_ITEMS = 1000


class FieldError(WireModel):
    """One invalid field of a 422 problem.

    Attributes:
        loc: Where the field is, e.g. ``["body", "name"]`` or ``["tasks", 3, "command"]``.
        msg: What is wrong with it.
        type: A machine-readable error kind.
    """

    loc: list[str | int] = Field(default_factory=list)
    msg: str
    type: str = "value_error"


class ProblemDetails(WireModel):
    """An error response body (RFC 9457, ``application/problem+json``).

    Extension members the server adds are kept (``extra="allow"``).

    Attributes:
        type: A URI naming the problem kind; ``about:blank`` when only the status matters.
        title: A short summary of the kind.
        status: The HTTP status code.
        detail: What went wrong this time and what to do.
        instance: The request path.
        errors: The invalid fields, for 422 responses.
        retry_after: Seconds to wait, for 429 and 503 responses.
    """

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int = Field(ge=100, le=599)
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    retry_after: float | None = None


class Stats(WireModel):
    """``GET /api/stats``: counts across the queue.

    Attributes:
        tasks_total: All tasks.
        tasks_by_status: Task counts keyed by status (missing keys are zero).
        tasks_by_priority: Task counts keyed by priority.
        tasks_by_type: Task counts keyed by type.
        projects_total: All projects.
        projects_by_status: Project counts keyed by status.
        workers_active: Workers holding a lease right now.
        queue_depth: Tasks runnable right now (Pending, due, dependencies completed).
        oldest_runnable_age_seconds: Age of the oldest runnable task; None when none is.
        generated_at: When the numbers were taken.
    """

    tasks_total: int = Field(ge=0)
    tasks_by_status: dict[TaskStatus, int] = Field(default_factory=dict)
    tasks_by_priority: dict[TaskPriority, int] = Field(default_factory=dict)
    tasks_by_type: dict[TaskType, int] = Field(default_factory=dict)
    projects_total: int = Field(default=0, ge=0)
    projects_by_status: dict[ProjectStatus, int] = Field(default_factory=dict)
    workers_active: int = Field(default=0, ge=0)
    queue_depth: int = Field(default=0, ge=0)
    oldest_runnable_age_seconds: float | None = Field(default=None, ge=0)
    generated_at: AwareDatetime | None = None


class BatchCreateRequest(RequestModel):
    """The body of ``POST /api/tasks/batch``: every item is validated before any is created."""

    tasks: list[TaskCreateRequest] = Field(min_length=1, max_length=BATCH_MAX_ITEMS)


class BatchItemResult(WireModel):
    """The outcome of one batch item: the task on success, the problem on failure.

    Attributes:
        index: The item's position in the request.
        ok: True when the item succeeded.
        task: The created or updated task, when ok.
        error: Why the item failed, when not ok.
    """

    index: int = Field(ge=0)
    ok: bool
    task: Task | None = None
    error: ProblemDetails | None = None


class BatchResult(WireModel):
    """One result per batch item, in request order.

    Retry only what failed with ``client.create_tasks(result.pick_failed(items))``.
    """

    results: list[BatchItemResult]

    @property
    def succeeded(self) -> list[Task]:
        """The tasks of the items that succeeded."""
        return [r.task for r in self.results if r.ok and r.task is not None]

    @property
    def failed(self) -> list[BatchItemResult]:
        """The results of the items that failed."""
        return [r for r in self.results if not r.ok]

    @property
    def all_ok(self) -> bool:
        """True when every item succeeded."""
        return all(r.ok for r in self.results)

    def pick_failed(self, items: Sequence[T]) -> list[T]:
        """Return the items of ``items`` (the batch that was sent) whose results failed.

        Args:
            items: The same sequence that was sent, in the same order.

        Raises:
            ValueError: when ``items`` is not as long as the batch.
        """
        if len(items) != len(self.results):
            raise ValueError(
                f"pick_failed got {len(items)} items for a batch of {len(self.results)}; "
                "pass the sequence that was sent"
            )
        return [items[r.index] for r in self.results if not r.ok]

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON-ready body (what the server sends)."""
        return self.model_dump(mode="json")
