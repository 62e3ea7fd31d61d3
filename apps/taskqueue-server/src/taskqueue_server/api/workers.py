"""Worker routes: claim leases (with an optional long poll), heartbeat, complete and fail, and
report many leases at once."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter, Depends, Request, Response

from api_core.middleware import log_request_at
from taskqueue.models import (
    ClaimedTask,
    ClaimRequest,
    ClaimResponse,
    CompleteRequest,
    FailRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    ReportRequest,
    ReportResponse,
    ReportResult,
    Task,
)
from taskqueue_server.api.deps import (
    PROBLEM_RESPONSES,
    Worker,
    authenticate,
    get_runtime,
    idempotent,
    json_response,
)
from taskqueue_server.api.tasks import task_model
from taskqueue_server.db.lease_reports import Report
from taskqueue_server.db.task_base import StoredTask
from taskqueue_server.db.tasks import TaskStore
from taskqueue_server.inputs import check_body, clean_output
from taskqueue_server.runtime import Runtime

__all__ = ["claimed_model", "router"]

router = APIRouter(tags=["workers"], dependencies=[Depends(authenticate)])


def claimed_model(stored: StoredTask) -> ClaimedTask:
    """A leased task as its claimer sees it: the task (with its secret environment values:
    the worker holding the lease is their one reader) plus the lease token."""
    token = stored.row.lease_token
    assert token is not None, "a leased row always has a token"
    return ClaimedTask.model_validate({**stored.to_wire(reveal_secrets=True), "lease_token": token})


@router.post("/api/workers/claim", response_model=ClaimResponse, responses=PROBLEM_RESPONSES)
async def claim(request: Request, body: ClaimRequest, caller: Worker) -> Response:
    """Lease up to ``max_tasks`` runnable tasks of the key's tenant, highest priority then
    oldest first. The only answer that carries ``secret_environment`` values.

    With ``wait`` > 0 and nothing runnable, the request is held until a task may have become
    runnable (or ``wait`` seconds pass) and the claim is tried again.
    """
    runtime = get_runtime(request)
    check_body(body, runtime.settings)
    leased = await runtime.claim_waiting(
        runtime.tasks.scoped(caller),
        body.worker_id,
        body.max_tasks,
        body.lease_seconds,
        body.project_id,
        min(body.wait, runtime.settings.claim_wait_max),
        gone=request.is_disconnected,
    )
    if not leased:  # idle workers ask all the time: keep their request lines out of INFO
        log_request_at(request, logging.DEBUG)
    if runtime.publisher.listeners:  # the console shows leases live; webhooks have no claim event
        for stored in leased:
            await runtime.publisher.notify("task.claimed", stored.to_wire(), caller.tenant)
    return json_response(ClaimResponse(tasks=[claimed_model(t) for t in leased]))


@router.post(
    "/api/tasks/{task_id}/heartbeat", response_model=HeartbeatResponse, responses=PROBLEM_RESPONSES
)
async def heartbeat(
    request: Request, task_id: uuid.UUID, body: HeartbeatRequest, caller: Worker
) -> Response:
    """Extend the lease; ``cancel_requested`` tells the worker to stop."""
    check_body(body, get_runtime(request).settings)
    expires, cancelled = (
        await get_runtime(request)
        .tasks.scoped(caller)
        .heartbeat(task_id, body.worker_id, body.lease_token, body.lease_seconds)
    )
    return json_response(
        HeartbeatResponse(task_id=task_id, lease_expires_at=expires, cancel_requested=cancelled)
    )


@router.post("/api/tasks/{task_id}/complete", response_model=Task, responses=PROBLEM_RESPONSES)
async def complete(
    request: Request, task_id: uuid.UUID, body: CompleteRequest, caller: Worker
) -> Response:
    """Record a successful run; the task becomes Completed. A replay (same token) gets the
    task back unchanged. NUL characters and lone surrogates in the output tails become
    U+FFFD; anything else unstorable is a 422."""
    runtime = get_runtime(request)
    result = clean_output(body.result.model_dump(mode="json"))
    check_body({"worker_id": body.worker_id, "result": result}, runtime.settings)

    async def produce() -> Response:
        task, changes = await runtime.tasks.scoped(caller).complete(
            task_id, body.worker_id, body.lease_token, result
        )
        await runtime.announce(changes)
        if any(change.unblocks for change in changes):
            runtime.wakeup.notify()  # tasks waiting on this one may be runnable now
        return json_response(task_model(task))

    return await idempotent(request, caller, produce)


@router.post("/api/tasks/{task_id}/fail", response_model=Task, responses=PROBLEM_RESPONSES)
async def fail(request: Request, task_id: uuid.UUID, body: FailRequest, caller: Worker) -> Response:
    """Record a failed attempt: Pending again ``retry_delay`` seconds later while attempts
    remain, else Failed; ``requeue`` hands the task back without counting the attempt."""
    runtime = get_runtime(request)
    result = clean_output(body.result.model_dump(mode="json"))
    check_body({"worker_id": body.worker_id, "result": result}, runtime.settings)

    async def produce() -> Response:
        task, changes = await runtime.tasks.scoped(caller).fail(
            task_id,
            body.worker_id,
            body.lease_token,
            result,
            runs=body.attempts,
            requeue=body.requeue,
        )
        await runtime.announce(changes)
        return json_response(task_model(task))

    return await idempotent(request, caller, produce)


@router.post("/api/workers/report", response_model=ReportResponse, responses=PROBLEM_RESPONSES)
async def report(request: Request, body: ReportRequest, caller: Worker) -> Response:
    """Report up to 100 leases at once (``complete``, ``fail`` or ``release`` each), in one
    transaction. Each report gets its own answer, in order: a stale token is
    ``lease_lost`` and an unknown (or another tenant's) task is not accepted, while the other
    reports are still recorded. Idempotent by lease token, as the single-task reports; output
    tails are cleaned as there, and anything else unstorable is a 422 for the whole request
    (nothing is written).

    With ``claim`` > 0 the worker then leases up to that many runnable tasks, as a claim
    without waiting would (answered in ``tasks``), so a busy worker refills the slots its
    reports free in the same request."""
    runtime = get_runtime(request)
    items = [
        Report(
            task_id=item.task_id,
            token=item.lease_token,
            outcome=item.outcome,
            result=clean_output(item.result.model_dump(mode="json")),
            runs=item.attempts,
        )
        for item in body.reports
    ]
    for item in items:  # the same checks as the single-task reports, item by item
        check_body({"worker_id": body.worker_id, "result": item.result}, runtime.settings)

    async def produce() -> Response:
        store = runtime.tasks.scoped(caller)
        answers, changes = await store.report_many(body.worker_id, items)
        await runtime.announce(changes)
        if any(change.unblocks for change in changes):
            runtime.wakeup.notify()  # tasks waiting on these may be runnable now
        leased = await _claim_now(runtime, store, caller.tenant, body) if body.claim else []
        results = [
            ReportResult.model_validate(
                {
                    "task_id": a.task_id,
                    "accepted": a.accepted,
                    "status": a.status,
                    "lease_lost": a.lease_lost,
                    "error": a.error,
                }
            )
            for a in answers
        ]
        tasks = [claimed_model(t) for t in leased]
        return json_response(ReportResponse(results=results, tasks=tasks))

    return await idempotent(request, caller, produce)


async def _claim_now(
    runtime: Runtime, store: TaskStore, tenant: str, body: ReportRequest
) -> list[StoredTask]:
    """The claim a report asks for: as ``POST /api/workers/claim`` without waiting."""
    leased, expired = await store.claim(
        body.worker_id, body.claim, body.lease_seconds, expire=runtime.lease_clock.current()
    )
    await runtime.announce(expired)
    if runtime.publisher.listeners:  # the console shows leases live, as for claims
        for stored in leased:
            await runtime.publisher.notify("task.claimed", stored.to_wire(), tenant)
    return leased
