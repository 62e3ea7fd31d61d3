"""Worker routes: claim leases, heartbeat, complete and fail."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter, Depends, Request, Response

from api_core.middleware import log_request_at
from taskqueue.models import (
    ClaimRequest,
    ClaimResponse,
    CompleteRequest,
    FailRequest,
    HeartbeatRequest,
    HeartbeatResponse,
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
from taskqueue_server.inputs import check_body, clean_output

__all__ = ["router"]

router = APIRouter(tags=["workers"], dependencies=[Depends(authenticate)])


@router.post("/api/workers/claim", response_model=ClaimResponse, responses=PROBLEM_RESPONSES)
async def claim(request: Request, body: ClaimRequest, caller: Worker) -> Response:
    """Lease up to ``max_tasks`` runnable tasks of the key's tenant, highest priority then
    oldest first. The only answer that carries ``secret_environment`` values."""
    runtime = get_runtime(request)
    check_body(body, runtime.settings)
    leased, expired = await runtime.tasks.scoped(caller).claim(
        body.worker_id, body.max_tasks, body.lease_seconds, project_id=body.project_id
    )
    await runtime.announce(expired)
    if not leased:  # an idle worker polls every second: keep its request lines out of INFO
        log_request_at(request, logging.DEBUG)
    # The worker holding the lease is the one reader of the secret values.
    tasks = [Task.model_validate(t.to_wire(reveal_secrets=True)) for t in leased]
    return json_response(ClaimResponse(tasks=tasks))


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
        .heartbeat(task_id, body.worker_id, body.lease_seconds)
    )
    return json_response(
        HeartbeatResponse(task_id=task_id, lease_expires_at=expires, cancel_requested=cancelled)
    )


@router.post("/api/tasks/{task_id}/complete", response_model=Task, responses=PROBLEM_RESPONSES)
async def complete(
    request: Request, task_id: uuid.UUID, body: CompleteRequest, caller: Worker
) -> Response:
    """Record a successful run; the task becomes Completed. NUL characters and lone
    surrogates in the output tails become U+FFFD; anything else unstorable is a 422."""
    runtime = get_runtime(request)
    result = clean_output(body.result.model_dump(mode="json"))
    check_body({"worker_id": body.worker_id, "result": result}, runtime.settings)

    async def produce() -> Response:
        changes = await runtime.tasks.scoped(caller).complete(task_id, body.worker_id, result)
        await runtime.announce(changes)
        return json_response(task_model(changes[0].task))

    return await idempotent(request, caller, produce)


@router.post("/api/tasks/{task_id}/fail", response_model=Task, responses=PROBLEM_RESPONSES)
async def fail(request: Request, task_id: uuid.UUID, body: FailRequest, caller: Worker) -> Response:
    """Record a failed run: retried after ``retry_delay`` while attempts remain, else Failed."""
    runtime = get_runtime(request)
    result = clean_output(body.result.model_dump(mode="json"))
    check_body({"worker_id": body.worker_id, "result": result}, runtime.settings)

    async def produce() -> Response:
        changes = await runtime.tasks.scoped(caller).fail(
            task_id,
            body.worker_id,
            result,
            runs=body.attempts,
            requeue=body.requeue,
        )
        await runtime.announce(changes)
        return json_response(task_model(changes[0].task))

    return await idempotent(request, caller, produce)
