"""Task routes: create (single and batch), read, list, update, cancel, advance, delete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from api_core import ComparisonOperator, FieldSpecification, Specification, and_
from taskqueue.models import (
    AdvancePhaseRequest,
    BatchCreateRequest,
    BatchItemResult,
    BatchResult,
    CancelRequest,
    ProblemDetails,
    Task,
    TaskCreateRequest,
    TaskList,
    TaskPriority,
    TaskStatus,
    TaskType,
    TaskUpdateRequest,
)
from taskqueue_server.api.deps import (
    MAX_OFFSET,
    PROBLEM_RESPONSES,
    Caller,
    authenticate,
    get_runtime,
    idempotent,
    json_response,
)
from taskqueue_server.db.schema import TaskRow
from taskqueue_server.db.tasks import Change, StoredTask
from taskqueue_server.errors import TaskQueueServerError

__all__ = ["router", "task_model"]

router = APIRouter(prefix="/api/tasks", tags=["tasks"], dependencies=[Depends(authenticate)])


def task_model(stored: StoredTask) -> Task:
    """The wire model of a stored task."""
    return Task.model_validate(stored.to_wire())


def _create_fields(req: TaskCreateRequest) -> dict[str, Any]:
    data = req.model_dump()
    for name in ("task_type", "priority"):
        data[name] = str(data[name])
    return data


@router.post("", status_code=201, response_model=Task, responses=PROBLEM_RESPONSES)
async def create_task(request: Request, body: TaskCreateRequest, caller: Caller) -> Response:
    """Create a task (``Idempotency-Key`` makes a retried POST safe)."""
    runtime = get_runtime(request)

    async def produce() -> Response:
        [stored] = await runtime.tasks.create_many([_create_fields(body)])
        await runtime.publisher.publish("task.created", stored.to_wire())
        runtime.wakeup.notify(1)  # an idle worker's long poll picks it up
        return json_response(task_model(stored), 201)

    return await idempotent(request, caller, produce)


@router.post("/batch", response_model=BatchResult, responses=PROBLEM_RESPONSES)
async def create_tasks(request: Request, body: BatchCreateRequest, caller: Caller) -> Response:
    """Create many tasks; every item is validated first, then each gets its own result."""
    runtime = get_runtime(request)

    async def produce() -> Response:
        results: list[BatchItemResult] = []
        try:  # the common case: everything valid, one transaction
            created = await runtime.tasks.create_many([_create_fields(t) for t in body.tasks])
        except TaskQueueServerError:
            created = []  # some item is bad: create item by item to report each one
        if created:
            for stored in created:
                await runtime.publisher.publish("task.created", stored.to_wire())
            runtime.wakeup.notify(len(created))
            results = [
                BatchItemResult(index=i, ok=True, task=task_model(t)) for i, t in enumerate(created)
            ]
            return json_response(BatchResult(results=results))
        for index, item in enumerate(body.tasks):
            try:
                [stored] = await runtime.tasks.create_many([_create_fields(item)])
            except TaskQueueServerError as exc:
                problem = ProblemDetails(title=exc.title, status=exc.status, detail=exc.message)
                results.append(BatchItemResult(index=index, ok=False, error=problem))
                continue
            await runtime.publisher.publish("task.created", stored.to_wire())
            runtime.wakeup.notify(1)
            results.append(BatchItemResult(index=index, ok=True, task=task_model(stored)))
        return json_response(BatchResult(results=results))

    return await idempotent(request, caller, produce)


@router.get("", response_model=TaskList, responses=PROBLEM_RESPONSES)
async def list_tasks(
    request: Request,
    status: TaskStatus | None = None,
    project_id: uuid.UUID | None = None,
    priority: TaskPriority | None = None,
    task_type: TaskType | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """List tasks oldest first; filters combine with AND. ``limit`` is capped by
    ``TASKQUEUE_MAX_PAGE_SIZE``."""
    runtime = get_runtime(request)
    limit = min(limit, runtime.settings.max_page_size)
    specs: list[Specification] = []
    for name, value in (
        ("status", status),
        ("project_id", project_id),
        ("priority", priority),
        ("task_type", task_type),
    ):
        if value is not None:
            specs.append(
                FieldSpecification(
                    name,
                    ComparisonOperator.EQ,
                    value if isinstance(value, uuid.UUID) else str(value),
                )
            )
    if created_after is not None:
        specs.append(FieldSpecification("created_at", ComparisonOperator.GE, _aware(created_after)))
    if created_before is not None:
        specs.append(
            FieldSpecification("created_at", ComparisonOperator.LE, _aware(created_before))
        )
    where = [and_(*specs).to_sql_condition(TaskRow)] if specs else []
    page, total = await runtime.tasks.page(where, limit, offset)
    return json_response(
        TaskList(tasks=[task_model(t) for t in page], total=total, limit=limit, offset=offset)
    )


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@router.get("/{task_id}", response_model=Task, responses=PROBLEM_RESPONSES)
async def get_task(request: Request, task_id: uuid.UUID) -> Response:
    """Return one task."""
    wire = await get_runtime(request).tasks.get_wire(task_id)
    return json_response(Task.model_validate(wire))


async def _answer(request: Request, changes: list[Change]) -> Response:
    await get_runtime(request).announce(changes)
    return json_response(task_model(changes[0].task))


@router.patch("/{task_id}", response_model=Task, responses=PROBLEM_RESPONSES)
async def update_task(request: Request, task_id: uuid.UUID, body: TaskUpdateRequest) -> Response:
    """Change the fields that were sent."""
    changes = body.model_dump(exclude_unset=True)
    if changes.get("priority") is not None:
        changes["priority"] = str(changes["priority"])
    return await _answer(request, await get_runtime(request).tasks.update(task_id, changes))


@router.post("/{task_id}/cancel", response_model=Task, responses=PROBLEM_RESPONSES)
async def cancel_task(
    request: Request, task_id: uuid.UUID, body: Annotated[CancelRequest | None, Body()] = None
) -> Response:
    """Cancel a task in any non-final status."""
    reason = body.reason if body is not None else None
    return await _answer(request, await get_runtime(request).tasks.cancel(task_id, reason))


@router.post("/{task_id}/advance-phase", response_model=Task, responses=PROBLEM_RESPONSES)
async def advance_phase(
    request: Request,
    task_id: uuid.UUID,
    body: Annotated[AdvancePhaseRequest | None, Body()] = None,
) -> Response:
    """Complete the current workflow phase and enter the next (in AIReview: record a review)."""
    req = body or AdvancePhaseRequest()
    changes = await get_runtime(request).tasks.advance_phase(
        task_id, documentation=req.documentation, artifacts=req.artifacts
    )
    return await _answer(request, changes)


@router.delete("/{task_id}", status_code=204, responses=PROBLEM_RESPONSES)
async def delete_task(request: Request, task_id: uuid.UUID) -> Response:
    """Delete a task; announced as ``task.deleted`` (tasks that waited on it: ``task.updated``)."""
    runtime = get_runtime(request)
    await runtime.announce(await runtime.tasks.delete(task_id))
    return Response(status_code=204)
