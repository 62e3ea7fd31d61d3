"""The worker protocol: claim a lease on runnable tasks, heartbeat it, report the outcome.

A worker ``POST``s :class:`ClaimRequest` to ``/api/workers/claim`` and gets up to
``max_tasks`` runnable tasks (Pending, dependencies completed), highest priority first, each
now ``Running`` and leased to the worker until ``lease_expires_at``; each carries the lease's
``lease_token``. While a command runs the worker heartbeats (``POST /api/tasks/{id}/heartbeat``)
to extend the lease; a lapsed lease makes the task claimable again (with a new token). It then
reports ``complete`` or ``fail``. Heartbeat, complete and fail present the token: one that is
no longer the task's current lease gets 409 (problem type :data:`LEASE_LOST_TYPE`), so at no
instant do two workers hold a valid lease on one task. A report is idempotent by token.

A worker finishing many tasks may report them together: :class:`ReportRequest` to
``POST /api/workers/report`` carries up to 100 :class:`TaskReport` items (each a complete,
fail or release of one lease) and gets one :class:`ReportResult` per item, in order; a stale
token or an unknown task is that item's answer, not an error of the whole request.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from taskqueue.models.base import NonBlank, RequestModel, WireModel
from taskqueue.models.enums import TaskStatus
from taskqueue.models.tasks import Task, TaskResult

__all__ = [
    "CLAIM_WAIT_MAX_SECONDS",
    "LEASE_LOST_TYPE",
    "ClaimRequest",
    "ClaimResponse",
    "ClaimedTask",
    "CompleteRequest",
    "FailRequest",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "REPORT_BATCH_MAX",
    "ReportOutcome",
    "ReportRequest",
    "ReportResponse",
    "ReportResult",
    "TaskReport",
]

LEASE_MAX_SECONDS = 3600
CLAIM_WAIT_MAX_SECONDS = 30.0
"""The longest a claim may wait for a runnable task (``ClaimRequest.wait``)."""
LEASE_LOST_TYPE = "urn:taskqueue:problem:lease-lost"
"""The problem ``type`` of the 409 a report with a stale or wrong lease token gets."""
TOKEN_MAX_LENGTH = 64
REPORT_BATCH_MAX = 100
"""The most reports one ``POST /api/workers/report`` carries."""

ReportOutcome = Literal["complete", "fail", "release"]
"""What a :class:`TaskReport` says: the run succeeded (``complete``), failed (``fail``, one
attempt counted), or never finished (``release``: handed back without counting it)."""


class ClaimRequest(RequestModel):
    """The body of ``POST /api/workers/claim``.

    Attributes:
        worker_id: A name unique to this worker process (host and pid, say).
        max_tasks: The most tasks to lease at once.
        lease_seconds: How long the lease lasts without a heartbeat.
        project_id: Only claim tasks of this project, when set.
        wait: Long poll: when nothing is runnable, wait up to this many seconds for a task
            to become runnable before answering (0 answers at once).
    """

    worker_id: NonBlank = Field(max_length=255)
    max_tasks: int = Field(default=1, ge=1, le=100)
    lease_seconds: int = Field(default=60, ge=1, le=LEASE_MAX_SECONDS)
    project_id: UUID | None = None
    wait: float = Field(default=0, ge=0, le=CLAIM_WAIT_MAX_SECONDS)


class ClaimedTask(Task):
    """A task as a claim hands it to the worker that now leases it.

    Attributes:
        lease_token: The lease's secret; heartbeat, complete and fail must present it.
            Only the claim response carries it.
    """

    lease_token: NonBlank = Field(max_length=TOKEN_MAX_LENGTH)


class ClaimResponse(WireModel):
    """The tasks leased to the worker; empty when nothing is runnable."""

    tasks: list[ClaimedTask] = Field(default_factory=list)


class HeartbeatRequest(RequestModel):
    """The body of ``POST /api/tasks/{id}/heartbeat``.

    Attributes:
        worker_id: The worker holding the lease.
        lease_token: The token the claim handed out; a stale one is a 409.
        lease_seconds: Extend the lease to this many seconds from now.
    """

    worker_id: NonBlank = Field(max_length=255)
    lease_token: NonBlank = Field(max_length=TOKEN_MAX_LENGTH)
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
    """The body of ``POST /api/tasks/{id}/complete``; the task becomes ``Completed``.

    Attributes:
        worker_id: The worker holding the lease.
        lease_token: The lease's token; a stale one is a 409, a replay of an accepted report
            gets the task back.
        result: The run's outcome.
    """

    worker_id: NonBlank = Field(max_length=255)
    lease_token: NonBlank = Field(max_length=TOKEN_MAX_LENGTH)
    result: TaskResult


class FailRequest(RequestModel):
    """The body of ``POST /api/tasks/{id}/fail``.

    Attributes:
        worker_id: The worker holding the lease.
        lease_token: The lease's token; a stale one is a 409, a replay of an accepted report
            gets the task back.
        result: The run's outcome.
        attempts: Runs made under this lease (1: the server schedules retries, ``Pending``
            again ``retry_delay`` seconds later while attempts remain, else ``Failed``).
        requeue: Hand the task back to ``Pending`` without counting an attempt (a worker
            shutting down before the run finished).
    """

    worker_id: NonBlank = Field(max_length=255)
    lease_token: NonBlank = Field(max_length=TOKEN_MAX_LENGTH)
    result: TaskResult
    attempts: int = Field(default=1, ge=0)
    requeue: bool = False


class TaskReport(RequestModel):
    """One lease's report inside a :class:`ReportRequest`.

    Attributes:
        task_id: The task.
        lease_token: The lease's token (a replay of an accepted report is accepted again).
        outcome: ``complete`` (Completed), ``fail`` (one failed attempt: the server retries
            it later or fails it) or ``release`` (back to Pending, the attempt not counted).
        result: The run's outcome.
        attempts: Runs made under this lease, for ``fail`` (as :attr:`FailRequest.attempts`).
    """

    task_id: UUID
    lease_token: NonBlank = Field(max_length=TOKEN_MAX_LENGTH)
    outcome: ReportOutcome
    result: TaskResult
    attempts: int = Field(default=1, ge=0)


class ReportRequest(RequestModel):
    """The body of ``POST /api/workers/report``: several leases' reports in one request.

    Attributes:
        worker_id: The worker holding the leases.
        reports: One to :data:`REPORT_BATCH_MAX` reports, applied in order in one
            transaction.
        claim: Then lease up to this many runnable tasks to the worker, as
            ``POST /api/workers/claim`` without waiting (answered in the response's
            ``tasks``): a busy worker refills the slots it reports free without a request
            of its own. 0 (the default) claims nothing.
        lease_seconds: The claimed tasks' lease length.
    """

    worker_id: NonBlank = Field(max_length=255)
    reports: list[TaskReport] = Field(min_length=1, max_length=REPORT_BATCH_MAX)
    claim: int = Field(default=0, ge=0, le=100)
    lease_seconds: int = Field(default=60, ge=1, le=LEASE_MAX_SECONDS)

    def to_payload(self) -> dict[str, Any]:
        """The JSON body; without ``claim`` and ``lease_seconds`` when nothing is claimed (a
        server from before the claim in reports refuses fields it does not know)."""
        if self.claim:
            return self.model_dump(mode="json")
        return self.model_dump(mode="json", exclude={"claim", "lease_seconds"})


class ReportResult(WireModel):
    """The answer to one :class:`TaskReport`.

    Attributes:
        task_id: The task.
        accepted: True when the report was recorded now or before (a replay).
        status: The task's status after the report; None for an unknown task.
        lease_lost: True when the token is not the task's current lease (the single-task
            routes answer 409): stop working on the task and drop the result.
        error: Why the report was not accepted.
    """

    task_id: UUID
    accepted: bool
    status: TaskStatus | None = None
    lease_lost: bool = False
    error: str | None = None


class ReportResponse(WireModel):
    """One :class:`ReportResult` per report, in the request's order, and the tasks leased
    when the request asked to ``claim`` some (each with its ``lease_token``)."""

    results: list[ReportResult] = Field(default_factory=list)
    tasks: list[ClaimedTask] = Field(default_factory=list)
