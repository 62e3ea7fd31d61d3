"""The worker protocol: claim a lease on runnable tasks, heartbeat it, report the outcome.

A worker ``POST``s :class:`ClaimRequest` to ``/api/workers/claim`` and gets up to
``max_tasks`` runnable tasks (Pending, dependencies completed), highest priority first, each
now ``Running`` and leased to the worker until ``lease_expires_at``. While a command runs the
worker heartbeats (``POST /api/tasks/{id}/heartbeat``) to extend the lease; a lapsed lease
makes the task claimable again. It then reports ``complete`` or ``fail``.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from taskqueue.models.base import NonBlank, RequestModel, WireModel
from taskqueue.models.tasks import Task, TaskResult

__all__ = [
    "ClaimRequest",
    "ClaimResponse",
    "CompleteRequest",
    "FailRequest",
    "HeartbeatRequest",
    "HeartbeatResponse",
]

LEASE_MAX_SECONDS = 3600


class ClaimRequest(RequestModel):
    """The body of ``POST /api/workers/claim``.

    Attributes:
        worker_id: A name unique to this worker process (host and pid, say).
        max_tasks: The most tasks to lease at once.
        lease_seconds: How long the lease lasts without a heartbeat.
        project_id: Only claim tasks of this project, when set.
    """

    worker_id: NonBlank = Field(max_length=255)
    max_tasks: int = Field(default=1, ge=1, le=100)
    lease_seconds: int = Field(default=60, ge=1, le=LEASE_MAX_SECONDS)
    project_id: UUID | None = None


class ClaimResponse(WireModel):
    """The tasks leased to the worker; empty when nothing is runnable."""

    tasks: list[Task] = Field(default_factory=list)


class HeartbeatRequest(RequestModel):
    """The body of ``POST /api/tasks/{id}/heartbeat``.

    Attributes:
        worker_id: The worker holding the lease; another worker's heartbeat is a 409.
        lease_seconds: Extend the lease to this many seconds from now.
    """

    worker_id: NonBlank = Field(max_length=255)
    lease_seconds: int = Field(default=60, ge=1, le=LEASE_MAX_SECONDS)


class HeartbeatResponse(WireModel):
    """The answer to a heartbeat.

    Attributes:
        task_id: The task.
        lease_expires_at: The new end of the lease.
        cancel_requested: True when the task was cancelled meanwhile; the worker should stop
            the command and not report a result.
    """

    task_id: UUID
    lease_expires_at: AwareDatetime
    cancel_requested: bool = False


class CompleteRequest(RequestModel):
    """The body of ``POST /api/tasks/{id}/complete``; the task becomes ``Completed``."""

    worker_id: NonBlank = Field(max_length=255)
    result: TaskResult


class FailRequest(RequestModel):
    """The body of ``POST /api/tasks/{id}/fail``.

    Attributes:
        worker_id: The worker holding the lease.
        result: The last run's outcome.
        attempts: How many runs the worker made (it retries per the task's retry settings).
        requeue: Put the task back to ``Pending`` for another worker instead of failing it
            (a worker shutting down before the run finished).
    """

    worker_id: NonBlank = Field(max_length=255)
    result: TaskResult
    attempts: int = Field(default=1, ge=0)
    requeue: bool = False
