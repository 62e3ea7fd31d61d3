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
    Caller,
    authenticate,
    get_runtime,
    idempotent,
    json_response,
)
from taskqueue_server.api.tasks import task_model

__all__ = ["router"]

router = APIRouter(tags=["workers"], dependencies=[Depends(authenticate)])


@router.post("/api/workers/claim", response_model=ClaimResponse, responses=PROBLEM_RESPONSES)
async def claim(request: Request, body: ClaimRequest) -> Response:
    """Lease up to ``max_tasks`` runnable tasks, highest priority then oldest first."""
    runtime = get_runtime(request)
    leased, expired = await runtime.tasks.claim(
        body.worker_id, body.max_tasks, body.lease_seconds, project_id=body.project_id
    )
    await runtime.announce(expired)
    if not leased:  # an idle worker polls every second: keep its request lines out of INFO
        log_request_at(request, logging.DEBUG)
    return json_response(ClaimResponse(tasks=[task_model(t) for t in leased]))


@router.post(
    "/api/tasks/{task_id}/heartbeat", response_model=HeartbeatResponse, responses=PROBLEM_RESPONSES
)
async def heartbeat(request: Request, task_id: uuid.UUID, body: HeartbeatRequest) -> Response:
    """Extend the lease; ``cancel_requested`` tells the worker to stop."""
    expires, cancelled = await get_runtime(request).tasks.heartbeat(
        task_id, body.worker_id, body.lease_seconds
    )
    return json_response(
        HeartbeatResponse(task_id=task_id, lease_expires_at=expires, cancel_requested=cancelled)
    )


@router.post("/api/tasks/{task_id}/complete", response_model=Task, responses=PROBLEM_RESPONSES)
async def complete(
    request: Request, task_id: uuid.UUID, body: CompleteRequest, caller: Caller
) -> Response:
    """Record a successful run; the task becomes Completed."""
    runtime = get_runtime(request)

    async def produce() -> Response:
        changes = await runtime.tasks.complete(
            task_id, body.worker_id, body.result.model_dump(mode="json")
        )
        await runtime.announce(changes)
        return json_response(task_model(changes[0].task))

    return await idempotent(request, caller, produce)


@router.post("/api/tasks/{task_id}/fail", response_model=Task, responses=PROBLEM_RESPONSES)
async def fail(request: Request, task_id: uuid.UUID, body: FailRequest, caller: Caller) -> Response:
    """Record a failed run: retried after ``retry_delay`` while attempts remain, else Failed."""
    runtime = get_runtime(request)

    async def produce() -> Response:
        changes = await runtime.tasks.fail(
            task_id,
            body.worker_id,
            body.result.model_dump(mode="json"),
            runs=body.attempts,
            requeue=body.requeue,
        )
        await runtime.announce(changes)
        return json_response(task_model(changes[0].task))

    return await idempotent(request, caller, produce)
