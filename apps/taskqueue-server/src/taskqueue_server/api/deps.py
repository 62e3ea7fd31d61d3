"""Request plumbing: the runtime, authentication with rate limiting (per key, and of failed
attempts per client address), the role each route needs, JSON responses and
``Idempotency-Key`` handling."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from taskqueue.models import ProblemDetails
from taskqueue_server.db.idempotency import Reservation, StoredResponse, request_fingerprint
from taskqueue_server.db.tenancy import DEFAULT_TENANT, ROLE_RIGHTS, Right, Role, TenantScope
from taskqueue_server.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidIdempotencyKeyError,
    RateLimitedError,
)
from taskqueue_server.runtime import Runtime

__all__ = [
    "MAX_OFFSET",
    "PROBLEM_RESPONSES",
    "Caller",
    "Manager",
    "Reader",
    "TaskWriter",
    "Worker",
    "authenticate",
    "require",
    "get_runtime",
    "idempotent",
    "json_response",
]

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key.")

MAX_OFFSET = 2**31 - 1
"""The largest ``offset`` a list route accepts (databases store it as a 32/64-bit integer)."""

_PROBLEM_CONTENT = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDetails, "description": text, "content": _PROBLEM_CONTENT}
    for code, text in {
        400: "Invalid Idempotency-Key header",
        401: "Missing or unknown API key",
        403: "The API key's role (or project restriction) does not allow this",
        404: "Unknown task, project, webhook or delivery (or another tenant's)",
        409: "Invalid state transition, lease not held, idempotency key reused or in use",
        413: "Request body too large",
        422: "Invalid request",
        429: "Rate limit exceeded, or too many failed authentications (see Retry-After)",
    }.items()
}
"""The problem-details responses every route documents in the OpenAPI schema."""
_MAX_IDEMPOTENCY_KEY = 255


def get_runtime(request: Request) -> Runtime:
    """The runtime the app was built with."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def _client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key)],
) -> TenantScope:
    """Identify the caller by API key and count the request against its rate limit.

    A client address whose authentications failed ``TASKQUEUE_AUTH_FAILURES_PER_MINUTE``
    times this minute gets 429 for every request until the minute ends (so keys cannot be
    guessed, and a valid key does not tell itself apart by a different answer).

    Returns:
        The caller's scope: tenant, role, projects, key id (the default tenant's admin,
        ``"anonymous"``, when auth is disabled and no key was sent).

    Raises:
        AuthenticationError: no key, or an unknown or revoked one.
        RateLimitedError: the key used up its budget for this minute, or the address failed
            to authenticate too often.
    """
    runtime = get_runtime(request)
    key = bearer.credentials if bearer is not None else header_key
    address = _client_address(request)
    blocked = await runtime.auth_failures.retry_after(address)
    if blocked is not None:
        raise RateLimitedError(blocked, "too many failed authentications from this address")
    if key:
        try:
            scope = await _verify(request, runtime, key)
        except AuthenticationError:
            await runtime.auth_failures.hit(address)
            raise
    elif runtime.settings.auth_disabled:
        scope = TenantScope(DEFAULT_TENANT, Role.ADMIN, None, "anonymous")
    else:
        await runtime.auth_failures.hit(address)
        raise AuthenticationError(
            "missing API key; send 'Authorization: Bearer <key>' or 'X-API-Key: <key>' "
            "(create one with `taskqueue-server create-api-key`)"
        )
    retry_after = await runtime.limiter.hit(scope.key_id)
    if retry_after is not None:
        raise RateLimitedError(retry_after)
    request.state.tenant = scope.tenant  # for the request log line
    return scope


async def _verify(request: Request, runtime: Runtime, key: str) -> TenantScope:
    # A short cache keeps a database round trip off every request. An entry lives for
    # TASKQUEUE_API_KEY_CACHE_SECONDS counted from *before* the database read, so every entry
    # made before a revocation committed is gone that long after it; `revoke-api-key` waits
    # that long before it returns.
    cache: dict[str, tuple[TenantScope, float]] = request.app.state.key_cache
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and hit[1] > now:
        return hit[0]
    # Requests that miss while a read of the same key is under way share it (when the entry
    # expires, every worker's next request would otherwise read the key again), but only
    # while that read is younger than the cache time: its answer is then as fresh as an entry.
    reads: dict[str, tuple[asyncio.Future[TenantScope | None], float]] = request.app.state.key_reads
    running = reads.get(key)
    if running is not None and running[1] > now:
        scope = await asyncio.shield(running[0])
    else:
        read = asyncio.ensure_future(runtime.api_keys.authenticate(key))
        until = now + runtime.settings.api_key_cache_seconds
        reads[key] = (read, until)
        try:
            scope = await asyncio.shield(read)
        finally:
            if reads.get(key, (None, 0.0))[0] is read:
                del reads[key]
        if scope is not None:
            if len(cache) > 10_000:
                cache.clear()
            cache[key] = (scope, until)
    if scope is None:
        raise AuthenticationError(
            "API key is unknown or revoked; check it or create a new one with "
            "`taskqueue-server create-api-key`"
        )
    return scope


Caller = Annotated[TenantScope, Depends(authenticate)]
"""The authenticated caller's scope, as a route parameter type (any role)."""


def require(right: Right) -> Callable[[TenantScope], Awaitable[TenantScope]]:
    """A dependency that authenticates and then refuses (403) a key whose role lacks ``right``.

    Args:
        right: What the route does.
    """
    allowed = sorted(str(role) for role, rights in ROLE_RIGHTS.items() if right in rights)

    async def check(scope: Caller) -> TenantScope:
        if not scope.may(right):
            raise ForbiddenError(
                f"this API key's role is {scope.role}; this route needs one of: "
                f"{', '.join(allowed)}",
                role=str(scope.role),
                allowed_roles=allowed,
            )
        return scope

    return check


Reader = Annotated[TenantScope, Depends(require(Right.READ))]
"""A caller that may read tasks, projects and stats (admin, producer, reader)."""
TaskWriter = Annotated[TenantScope, Depends(require(Right.WRITE_TASKS))]
"""A caller that may create, change, cancel and delete tasks (admin, producer)."""
Manager = Annotated[TenantScope, Depends(require(Right.MANAGE))]
"""A caller that may manage projects and webhooks (admin)."""
Worker = Annotated[TenantScope, Depends(require(Right.WORK))]
"""A caller that may claim, heartbeat and report (admin, worker)."""


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """Serialise ``model`` with pydantic (fast path, no second validation)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


async def idempotent(
    request: Request, caller: TenantScope, produce: Callable[[], Awaitable[Response]]
) -> Response:
    """Run ``produce`` once per ``Idempotency-Key``: a repeat with the same body gets the
    first response (header ``Idempotent-Replayed: true``); another body is a 409, and so is a
    repeat while the first request is still running (with ``Retry-After``).

    Requests without the header run normally. Only successful responses are kept, so a
    request that failed may be retried with the same key.
    """
    key = request.headers.get("idempotency-key")
    if not key:
        return await produce()
    if len(key) > _MAX_IDEMPOTENCY_KEY:
        # Cutting it would make two long keys with a common start count as one.
        raise InvalidIdempotencyKeyError(
            f"Idempotency-Key is {len(key)} characters long; at most "
            f"{_MAX_IDEMPOTENCY_KEY} are allowed"
        )
    store = get_runtime(request).idempotency
    fingerprint = request_fingerprint(request.method, request.url.path, await request.body())
    stored = await store.begin(caller.key_id, key, fingerprint)
    if isinstance(stored, Reservation):
        try:
            response = await produce()
        except BaseException:
            # Free the key even when the client went away; if that fails too, the key frees
            # itself after the lock time.
            with contextlib.suppress(Exception):
                await asyncio.shield(store.release(stored))
            raise
        if not 200 <= response.status_code < 300:
            await store.release(stored)
            return response
        await store.finish(
            stored, StoredResponse(response.status_code, bytes(response.body).decode())
        )
        return response
    return Response(
        stored.body,
        status_code=stored.status_code,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )
