"""Project routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from taskqueue.models import Project, ProjectCreateRequest, ProjectList, ProjectUpdateRequest
from taskqueue_server.api.deps import (
    MAX_OFFSET,
    PROBLEM_RESPONSES,
    Manager,
    Reader,
    authenticate,
    get_runtime,
    idempotent,
    json_response,
)
from taskqueue_server.db.projects import ProjectStore, project_to_wire
from taskqueue_server.db.schema import ProjectRow
from taskqueue_server.db.tenancy import TenantScope
from taskqueue_server.inputs import check_body

__all__ = ["router"]

router = APIRouter(prefix="/api/projects", tags=["projects"], dependencies=[Depends(authenticate)])


def _projects(request: Request, scope: TenantScope) -> ProjectStore:
    return get_runtime(request).projects.scoped(scope)


def _model(row: ProjectRow) -> Project:
    return Project.model_validate(project_to_wire(row))


@router.post("", status_code=201, response_model=Project, responses=PROBLEM_RESPONSES)
async def create_project(request: Request, body: ProjectCreateRequest, caller: Manager) -> Response:
    """Create a project."""
    runtime = get_runtime(request)
    check_body(body, runtime.settings)

    async def produce() -> Response:
        data = body.model_dump()
        data["status"] = str(data["status"])
        row = await _projects(request, caller).create(data)
        await runtime.publisher.publish("project.created", project_to_wire(row), caller.tenant)
        return json_response(_model(row), 201)

    return await idempotent(request, caller, produce)


@router.get("", response_model=ProjectList, responses=PROBLEM_RESPONSES)
async def list_projects(
    request: Request,
    caller: Reader,
    limit: Annotated[int, Query(ge=1)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """List projects, oldest first."""
    runtime = get_runtime(request)
    limit = min(limit, runtime.settings.max_page_size)
    rows, total = await _projects(request, caller).page([], limit, offset)
    return json_response(
        ProjectList(projects=[_model(r) for r in rows], total=total, limit=limit, offset=offset)
    )


@router.get("/{project_id}", response_model=Project, responses=PROBLEM_RESPONSES)
async def get_project(request: Request, project_id: uuid.UUID, caller: Reader) -> Response:
    """Return one project."""
    return json_response(_model(await _projects(request, caller).get(project_id)))


@router.patch("/{project_id}", response_model=Project, responses=PROBLEM_RESPONSES)
async def update_project(
    request: Request, project_id: uuid.UUID, body: ProjectUpdateRequest, caller: Manager
) -> Response:
    """Change the fields that were sent."""
    runtime = get_runtime(request)
    check_body(body, runtime.settings)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("status") is not None:
        changes["status"] = str(changes["status"])
    row = await _projects(request, caller).update(project_id, changes)
    await runtime.publisher.publish("project.updated", project_to_wire(row), caller.tenant)
    return json_response(_model(row))


@router.delete("/{project_id}", status_code=204, responses=PROBLEM_RESPONSES)
async def delete_project(request: Request, project_id: uuid.UUID, caller: Manager) -> Response:
    """Delete a project that has no tasks (409 otherwise); announced as ``project.deleted``."""
    runtime = get_runtime(request)
    row = await _projects(request, caller).delete(project_id)
    await runtime.publisher.publish("project.deleted", project_to_wire(row), caller.tenant)
    return Response(status_code=204)
