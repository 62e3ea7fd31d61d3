"""Task routes: create (single and batch), read, list, update, cancel, retry, advance, delete."""

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
    Reader,
    TaskWriter,
    authenticate,
    get_runtime,
    idempotent,
    json_response,
)
from taskqueue_server.db.cursor import decode_cursor, encode_cursor, filters_fingerprint
from taskqueue_server.db.schema import TaskRow
from taskqueue_server.db.tasks import Change, StoredTask, TaskStore
from taskqueue_server.db.tenancy import TenantScope
from taskqueue_server.errors import InvalidCursorError, TaskQueueServerError
from taskqueue_server.inputs import check_body

__all__ = ["router", "task_model"]

router = APIRouter(prefix="/api/tasks", tags=["tasks"], dependencies=[Depends(authenticate)])


def task_model(stored: StoredTask) -> Task:
    """The wire model of a stored task (secret environment values redacted)."""
    return Task.model_validate(stored.to_wire())


def _tasks(request: Request, scope: TenantScope) -> TaskStore:
    return get_runtime(request).tasks.scoped(scope)


class _Rendered:
    """Builds the response from the changes before they are committed (see ``before_commit``):
    a response that cannot be built leaves nothing written."""

    def __init__(self, status_code: int = 200) -> None:
        self.status_code = status_code
        self.response: Response | None = None

    def __call__(self, changes: list[Change]) -> None:
        self.response = json_response(task_model(changes[0].task), self.status_code)

    def get(self) -> Response:
        assert self.response is not None
        return self.response


def _create_fields(req: TaskCreateRequest) -> dict[str, Any]:
    data = req.model_dump()
    for name in ("task_type", "priority"):
        data[name] = str(data[name])
    return data


@router.post("", status_code=201, response_model=Task, responses=PROBLEM_RESPONSES)
async def create_task(request: Request, body: TaskCreateRequest, caller: TaskWriter) -> Response:
    """Create a task (``Idempotency-Key`` makes a retried POST safe)."""
    runtime = get_runtime(request)
    check_body(body, runtime.settings)
    tasks = _tasks(request, caller)

    async def produce() -> Response:
        rendered = _Rendered(201)
        [stored] = await tasks.create_many([_create_fields(body)], before_commit=rendered)
        await runtime.publisher.publish("task.created", stored.to_wire(), caller.tenant)
        runtime.wakeup.notify(1)  # an idle worker's long poll picks it up
        return rendered.get()

    return await idempotent(request, caller, produce)


@router.post("/batch", response_model=BatchResult, responses=PROBLEM_RESPONSES)
async def create_tasks(request: Request, body: BatchCreateRequest, caller: TaskWriter) -> Response:
    """Create many tasks; every item is validated first, then each gets its own result."""
    runtime = get_runtime(request)
    check_body(body, runtime.settings)
    tasks = _tasks(request, caller)

    async def produce() -> Response:
        results: list[BatchItemResult] = []
        try:  # the common case: everything valid, one transaction
            created = await tasks.create_many([_create_fields(t) for t in body.tasks])
        except TaskQueueServerError:
            created = []  # some item is bad: create item by item to report each one
        if created:
            for stored in created:
                await runtime.publisher.publish("task.created", stored.to_wire(), caller.tenant)
            runtime.wakeup.notify(len(created))
            results = [
                BatchItemResult(index=i, ok=True, task=task_model(t)) for i, t in enumerate(created)
            ]
            return json_response(BatchResult(results=results))
        for index, item in enumerate(body.tasks):
            try:
                [stored] = await tasks.create_many([_create_fields(item)])
            except TaskQueueServerError as exc:
                problem = ProblemDetails(title=exc.title, status=exc.status, detail=exc.message)
                results.append(BatchItemResult(index=index, ok=False, error=problem))
                continue
            await runtime.publisher.publish("task.created", stored.to_wire(), caller.tenant)
            runtime.wakeup.notify(1)
            results.append(BatchItemResult(index=index, ok=True, task=task_model(stored)))
        return json_response(BatchResult(results=results))

    return await idempotent(request, caller, produce)


@router.get("", response_model=TaskList, responses=PROBLEM_RESPONSES)
async def list_tasks(
    request: Request,
    caller: Reader,
    status: TaskStatus | None = None,
    project_id: uuid.UUID | None = None,
    priority: TaskPriority | None = None,
    task_type: TaskType | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """List tasks oldest first (ties by id); filters combine with AND. ``limit`` is capped by
    ``TASKQUEUE_MAX_PAGE_SIZE``.

    Page with ``cursor``: send the ``next_cursor`` of the previous answer (with the same
    filters) to get the tasks after it, at the same cost whatever the depth; ``total`` is then
    null. ``offset`` still works, but skips rows one by one, and cannot be combined with a
    cursor.
    """
    runtime = get_runtime(request)
    limit = min(limit, runtime.settings.max_page_size)
    filters: dict[str, Any] = {
        "status": status,
        "project_id": project_id,
        "priority": priority,
        "task_type": task_type,
    }
    specs: list[Specification] = [
        FieldSpecification(name, ComparisonOperator.EQ, v if isinstance(v, uuid.UUID) else str(v))
        for name, v in filters.items()
        if v is not None
    ]
    if created_after is not None:
        specs.append(FieldSpecification("created_at", ComparisonOperator.GE, _aware(created_after)))
    if created_before is not None:
        specs.append(
            FieldSpecification("created_at", ComparisonOperator.LE, _aware(created_before))
        )
    fingerprint = filters_fingerprint(
        {**filters, "created_after": created_after, "created_before": created_before}
    )
    after = None
    if cursor is not None:
        if offset:
            raise InvalidCursorError("cannot be combined with offset; send one or the other")
        after = decode_cursor(cursor, fingerprint)
    where = [and_(*specs).to_sql_condition(TaskRow)] if specs else []
    page, total, more = await _tasks(request, caller).page(where, limit, offset, after)
    next_cursor = None
    if more and page:
        last = page[-1].row
        next_cursor = encode_cursor(last.created_at, last.id, fingerprint)
    return json_response(
        TaskList(
            tasks=[task_model(t) for t in page],
            total=total,
            limit=limit,
            offset=offset,
            next_cursor=next_cursor,
        )
    )


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@router.get("/{task_id}", response_model=Task, responses=PROBLEM_RESPONSES)
async def get_task(request: Request, task_id: uuid.UUID, caller: Reader) -> Response:
    """Return one task."""
    wire = await _tasks(request, caller).get_wire(task_id)
    return json_response(Task.model_validate(wire))


@router.patch("/{task_id}", response_model=Task, responses=PROBLEM_RESPONSES)
async def update_task(
    request: Request, task_id: uuid.UUID, body: TaskUpdateRequest, caller: TaskWriter
) -> Response:
    """Change the fields that were sent."""
    check_body(body, get_runtime(request).settings)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("priority") is not None:
        changes["priority"] = str(changes["priority"])
    rendered = _Rendered()
    done = await _tasks(request, caller).update(task_id, changes, before_commit=rendered)
    await get_runtime(request).announce(done)
    return rendered.get()


@router.post("/{task_id}/cancel", response_model=Task, responses=PROBLEM_RESPONSES)
async def cancel_task(
    request: Request,
    task_id: uuid.UUID,
    caller: TaskWriter,
    body: Annotated[CancelRequest | None, Body()] = None,
) -> Response:
    """Cancel a task in any non-final status."""
    if body is not None:
        check_body(body, get_runtime(request).settings)
    reason = body.reason if body is not None else None
    rendered = _Rendered()
    done = await _tasks(request, caller).cancel(task_id, reason, before_commit=rendered)
    await get_runtime(request).announce(done)
    return rendered.get()


@router.post("/{task_id}/retry", response_model=Task, responses=PROBLEM_RESPONSES)
async def retry_task(request: Request, task_id: uuid.UUID, caller: TaskWriter) -> Response:
    """Run a Failed or Cancelled task again: ``Pending`` at once, attempts from zero, its last
    result cleared. Dependents that failed without running because of it are queued again
    with it (announced as their own changes); tasks that failed on their own are not."""
    rendered = _Rendered()
    done = await _tasks(request, caller).retry(task_id, before_commit=rendered)
    await get_runtime(request).announce(done)
    return rendered.get()


@router.post("/{task_id}/advance-phase", response_model=Task, responses=PROBLEM_RESPONSES)
async def advance_phase(
    request: Request,
    task_id: uuid.UUID,
    caller: TaskWriter,
    body: Annotated[AdvancePhaseRequest | None, Body()] = None,
) -> Response:
    """Complete the current workflow phase and enter the next (in AIReview: record a review)."""
    req = body or AdvancePhaseRequest()
    check_body(req, get_runtime(request).settings)
    rendered = _Rendered()
    changes = await _tasks(request, caller).advance_phase(
        task_id, documentation=req.documentation, artifacts=req.artifacts, before_commit=rendered
    )
    await get_runtime(request).announce(changes)
    return rendered.get()


@router.delete("/{task_id}", status_code=204, responses=PROBLEM_RESPONSES)
async def delete_task(request: Request, task_id: uuid.UUID, caller: TaskWriter) -> Response:
    """Delete a task; announced as ``task.deleted`` (tasks that waited on it: ``task.updated``)."""
    runtime = get_runtime(request)
    await runtime.announce(await _tasks(request, caller).delete(task_id))
    return Response(status_code=204)
