"""API key routes (admin): a tenant's admins list, create and revoke the tenant's keys.

The command line (``taskqueue-server create-api-key``) manages keys of any tenant; these routes
only ever touch the caller's tenant, so an admin cannot reach beyond it, and a key restricted to
projects can only hand out keys restricted to some of its own projects.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response

from taskqueue.models import ApiKey, ApiKeyCreateRequest, ApiKeyList
from taskqueue_server.api.deps import (
    PROBLEM_RESPONSES,
    Manager,
    authenticate,
    get_runtime,
    idempotent,
    json_response,
)
from taskqueue_server.db.apikeys import ApiKeyInfo
from taskqueue_server.db.tenancy import Role
from taskqueue_server.errors import ForbiddenError, NotFoundError
from taskqueue_server.inputs import check_body

__all__ = ["router"]

router = APIRouter(prefix="/api/keys", tags=["keys"], dependencies=[Depends(authenticate)])


def _model(info: ApiKeyInfo, key: str | None = None) -> ApiKey:
    return ApiKey.model_validate({**info.to_json(), "key": key})


@router.get("", response_model=ApiKeyList, responses=PROBLEM_RESPONSES)
async def list_keys(request: Request, caller: Manager) -> Response:
    """The tenant's keys, active and revoked, oldest first (never secrets or hashes)."""
    keys = await get_runtime(request).api_keys.all(caller.tenant)
    return json_response(ApiKeyList(keys=[_model(k) for k in keys]))


@router.post("", status_code=201, response_model=ApiKey, responses=PROBLEM_RESPONSES)
async def create_key(request: Request, body: ApiKeyCreateRequest, caller: Manager) -> Response:
    """Create a key in the caller's tenant; the answer carries the key (only here)."""
    runtime = get_runtime(request)
    check_body(body, runtime.settings)
    wanted = None if body.projects is None else list(dict.fromkeys(body.projects))
    if caller.projects is not None and (wanted is None or not set(wanted) <= caller.projects):
        raise ForbiddenError(
            "this API key is restricted to projects; the keys it creates must be restricted "
            "to some of them"
        )
    projects = runtime.projects.scoped(caller)
    for project_id in wanted or []:
        await projects.get(project_id)  # 404 for an unknown (or another tenant's) project

    async def produce() -> Response:
        created = await runtime.api_keys.create(
            body.name, tenant=caller.tenant, role=Role(body.role), projects=wanted
        )
        info = await runtime.api_keys.find(str(created.id))
        assert info is not None
        return json_response(_model(info, created.key), 201)

    return await idempotent(request, caller, produce)


@router.delete("/{key_id}", status_code=204, responses=PROBLEM_RESPONSES)
async def revoke_key(request: Request, key_id: uuid.UUID, caller: Manager) -> Response:
    """Revoke a key of the tenant. Other servers stop trusting it within
    ``TASKQUEUE_API_KEY_CACHE_SECONDS``; this one at once."""
    runtime = get_runtime(request)
    found = await runtime.api_keys.find(str(key_id))
    if found is None or found.id != key_id or found.tenant != caller.tenant:  # tenant filter
        raise NotFoundError("API key", key_id)
    await runtime.api_keys.revoke(key_id)
    request.app.state.key_cache.clear()
    request.app.state.key_reads.clear()  # nobody joins a read that began before this
    return Response(status_code=204)
