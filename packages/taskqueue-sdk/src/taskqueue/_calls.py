"""The catalogue of API calls: one function per route, returning a :class:`Call`.

Both clients send these, so the routes, bodies and parsers are written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from taskqueue import errors
from taskqueue._http import Call, model, new_idempotency_key, nothing
from taskqueue.models import (
    AdvancePhaseRequest,
    ApiKey,
    ApiKeyCreateRequest,
    ApiKeyList,
    BatchCreateRequest,
    BatchResult,
    CancelRequest,
    ClaimRequest,
    ClaimResponse,
    CompleteRequest,
    FailRequest,
    FieldError,
    HeartbeatRequest,
    HeartbeatResponse,
    Project,
    ProjectCreateRequest,
    ProjectList,
    ProjectUpdateRequest,
    ReportRequest,
    ReportResponse,
    Stats,
    Task,
    TaskCreateRequest,
    TaskFilters,
    TaskList,
    TaskResult,
    TaskUpdateRequest,
    WebhookCreateRequest,
    WebhookDelivery,
    WebhookDeliveryList,
    WebhookList,
    WebhookSubscription,
)

R = TypeVar("R", bound=BaseModel)
Id = UUID | str


def coerce(cls: type[R], value: R | Mapping[str, Any] | None, **fields: Any) -> R:
    """Return ``value`` as a ``cls`` request, validating a mapping or keyword fields.

    Raises:
        errors.ValidationError: naming each invalid field; nothing has been sent.
    """
    if isinstance(value, cls) and not fields:
        return value
    if isinstance(value, cls):
        data = {**value.model_dump(exclude_unset=True), **fields}
    else:
        data = {**(dict(value) if value is not None else {}), **fields}
    try:
        return cls.model_validate(data)
    except PydanticValidationError as exc:
        raise invalid(exc, cls.__name__) from exc


def invalid(
    exc: PydanticValidationError, what: str, prefix: tuple[str | int, ...] = ()
) -> errors.ValidationError:
    """Turn a pydantic error into the SDK's ValidationError, listing every field."""
    field_errors = [
        FieldError(loc=[*prefix, *err["loc"]], msg=err["msg"], type=err["type"])
        for err in exc.errors(include_url=False)
    ]
    listed = "; ".join(f"{'.'.join(map(str, e.loc)) or what}: {e.msg}" for e in field_errors)
    return errors.ValidationError(f"invalid {what}: {listed}", errors=field_errors)


def _id(value: Id) -> str:
    return str(value)


# --- tasks ---------------------------------------------------------------------------------


def create_task(req: TaskCreateRequest, key: str | None) -> Call[Task]:
    """``POST /api/tasks`` with an idempotency key (generated when not given)."""
    return Call(
        "POST",
        "/api/tasks",
        model(Task),
        body=req.to_payload(),
        idempotency_key=key or new_idempotency_key(),
    )


def create_tasks(batch: BatchCreateRequest, key: str | None) -> Call[BatchResult]:
    """``POST /api/tasks/batch``."""
    return Call(
        "POST",
        "/api/tasks/batch",
        model(BatchResult),
        body=batch.to_payload(),
        idempotency_key=key or new_idempotency_key(),
    )


def get_task(task_id: Id) -> Call[Task]:
    """``GET /api/tasks/{id}``."""
    return Call(
        "GET", f"/api/tasks/{_id(task_id)}", model(Task), not_found=errors.TaskNotFoundError
    )


def list_tasks(
    filters: TaskFilters | None, limit: int, offset: int = 0, cursor: str | None = None
) -> Call[TaskList]:
    """``GET /api/tasks`` with filters and paging (by ``cursor`` when given, else ``offset``)."""
    params = filters.to_params() if filters is not None else {}
    params["limit"] = str(limit)
    if cursor is not None:
        params["cursor"] = cursor
    elif offset:
        params["offset"] = str(offset)
    return Call("GET", "/api/tasks", model(TaskList), params=params)


def update_task(task_id: Id, req: TaskUpdateRequest) -> Call[Task]:
    """``PATCH /api/tasks/{id}`` with only the fields that were set."""
    return Call(
        "PATCH",
        f"/api/tasks/{_id(task_id)}",
        model(Task),
        body=req.to_payload(),
        not_found=errors.TaskNotFoundError,
        safe_to_repeat=True,
    )


def cancel_task(task_id: Id, reason: str | None) -> Call[Task]:
    """``POST /api/tasks/{id}/cancel``."""
    return Call(
        "POST",
        f"/api/tasks/{_id(task_id)}/cancel",
        model(Task),
        body=CancelRequest(reason=reason).to_payload(),
        not_found=errors.TaskNotFoundError,
    )


def retry_task(task_id: Id) -> Call[Task]:
    """``POST /api/tasks/{id}/retry``."""
    return Call(
        "POST",
        f"/api/tasks/{_id(task_id)}/retry",
        model(Task),
        not_found=errors.TaskNotFoundError,
    )


def advance_phase(task_id: Id, req: AdvancePhaseRequest) -> Call[Task]:
    """``POST /api/tasks/{id}/advance-phase``."""
    return Call(
        "POST",
        f"/api/tasks/{_id(task_id)}/advance-phase",
        model(Task),
        body=req.to_payload(),
        not_found=errors.TaskNotFoundError,
    )


def delete_task(task_id: Id) -> Call[None]:
    """``DELETE /api/tasks/{id}``."""
    return Call(
        "DELETE",
        f"/api/tasks/{_id(task_id)}",
        nothing,
        not_found=errors.TaskNotFoundError,
    )


# --- workers -------------------------------------------------------------------------------


def claim(req: ClaimRequest) -> Call[ClaimResponse]:
    """``POST /api/workers/claim`` (not repeated: a lost answer's leases simply lapse); the
    read timeout grows by the long poll's ``wait``."""
    return Call(
        "POST",
        "/api/workers/claim",
        model(ClaimResponse),
        body=req.to_payload(),
        extra_timeout=req.wait,
    )


def heartbeat(task_id: Id, req: HeartbeatRequest) -> Call[HeartbeatResponse]:
    """``POST /api/tasks/{id}/heartbeat`` (repeating only extends the lease again)."""
    return Call(
        "POST",
        f"/api/tasks/{_id(task_id)}/heartbeat",
        model(HeartbeatResponse),
        body=req.to_payload(),
        not_found=errors.TaskNotFoundError,
        safe_to_repeat=True,
    )


def complete(task_id: Id, worker_id: str, lease_token: str, result: TaskResult) -> Call[Task]:
    """``POST /api/tasks/{id}/complete``: idempotent by lease token, so it is safe to repeat
    without an idempotency key (which would cost the server two more writes per report)."""
    req = CompleteRequest(worker_id=worker_id, lease_token=lease_token, result=result)
    return Call(
        "POST",
        f"/api/tasks/{_id(task_id)}/complete",
        model(Task),
        body=req.to_payload(),
        not_found=errors.TaskNotFoundError,
        safe_to_repeat=True,
    )


def report(req: ReportRequest) -> Call[ReportResponse]:
    """``POST /api/workers/report``: many leases' reports at once; idempotent by lease token,
    so it is safe to repeat, unless it also claims tasks (a repeat would lease more)."""
    return Call(
        "POST",
        "/api/workers/report",
        model(ReportResponse),
        body=req.to_payload(),
        safe_to_repeat=not req.claim,
    )


def fail(task_id: Id, req: FailRequest) -> Call[Task]:
    """``POST /api/tasks/{id}/fail``: idempotent by lease token, safe to repeat."""
    return Call(
        "POST",
        f"/api/tasks/{_id(task_id)}/fail",
        model(Task),
        body=req.to_payload(),
        not_found=errors.TaskNotFoundError,
        safe_to_repeat=True,
    )


# --- projects ------------------------------------------------------------------------------


def create_project(req: ProjectCreateRequest, key: str | None) -> Call[Project]:
    """``POST /api/projects``."""
    return Call(
        "POST",
        "/api/projects",
        model(Project),
        body=req.to_payload(),
        idempotency_key=key or new_idempotency_key(),
    )


def get_project(project_id: Id) -> Call[Project]:
    """``GET /api/projects/{id}``."""
    return Call(
        "GET",
        f"/api/projects/{_id(project_id)}",
        model(Project),
        not_found=errors.ProjectNotFoundError,
    )


def list_projects(limit: int, offset: int) -> Call[ProjectList]:
    """``GET /api/projects``."""
    params = {"limit": str(limit), "offset": str(offset)}
    return Call("GET", "/api/projects", model(ProjectList), params=params)


def update_project(project_id: Id, req: ProjectUpdateRequest) -> Call[Project]:
    """``PATCH /api/projects/{id}``."""
    return Call(
        "PATCH",
        f"/api/projects/{_id(project_id)}",
        model(Project),
        body=req.to_payload(),
        not_found=errors.ProjectNotFoundError,
        safe_to_repeat=True,
    )


def delete_project(project_id: Id) -> Call[None]:
    """``DELETE /api/projects/{id}``."""
    return Call(
        "DELETE",
        f"/api/projects/{_id(project_id)}",
        nothing,
        not_found=errors.ProjectNotFoundError,
    )


# --- webhooks and stats --------------------------------------------------------------------


def create_webhook(req: WebhookCreateRequest, key: str | None) -> Call[WebhookSubscription]:
    """``POST /api/webhooks``."""
    return Call(
        "POST",
        "/api/webhooks",
        model(WebhookSubscription),
        body=req.to_payload(),
        idempotency_key=key or new_idempotency_key(),
    )


def list_webhooks() -> Call[WebhookList]:
    """``GET /api/webhooks``."""
    return Call("GET", "/api/webhooks", model(WebhookList))


def delete_webhook(webhook_id: Id) -> Call[None]:
    """``DELETE /api/webhooks/{id}``."""
    return Call("DELETE", f"/api/webhooks/{_id(webhook_id)}", nothing)


def list_deliveries(webhook_id: Id, limit: int, offset: int) -> Call[WebhookDeliveryList]:
    """``GET /api/webhooks/{id}/deliveries``."""
    params = {"limit": str(limit), "offset": str(offset)}
    return Call(
        "GET",
        f"/api/webhooks/{_id(webhook_id)}/deliveries",
        model(WebhookDeliveryList),
        params=params,
    )


def redeliver(webhook_id: Id, delivery_id: Id) -> Call[WebhookDelivery]:
    """``POST /api/webhooks/{id}/deliveries/{delivery_id}/redeliver``."""
    return Call(
        "POST",
        f"/api/webhooks/{_id(webhook_id)}/deliveries/{_id(delivery_id)}/redeliver",
        model(WebhookDelivery),
    )


def stats() -> Call[Stats]:
    """``GET /api/stats``."""
    return Call("GET", "/api/stats", model(Stats))


# --- API keys (admin) ----------------------------------------------------------------------


def create_api_key(req: ApiKeyCreateRequest, key: str | None) -> Call[ApiKey]:
    """``POST /api/keys``."""
    return Call(
        "POST",
        "/api/keys",
        model(ApiKey),
        body=req.to_payload(),
        idempotency_key=key or new_idempotency_key(),
    )


def list_api_keys() -> Call[ApiKeyList]:
    """``GET /api/keys``."""
    return Call("GET", "/api/keys", model(ApiKeyList))


def revoke_api_key(key_id: Id) -> Call[None]:
    """``DELETE /api/keys/{id}``."""
    return Call("DELETE", f"/api/keys/{_id(key_id)}", nothing)
