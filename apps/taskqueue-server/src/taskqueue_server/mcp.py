"""The Task Queue MCP server on Streamable HTTP at ``/mcp``, acting with each caller's key.

The tools (``taskqueue.mcp``, the SDK's ``[mcp]`` extra) call this same app in-process through
the SDK client on an ASGI transport, carrying the API key the MCP request came with. So every
rule (authentication, rate limits, validation, and whatever tenants and roles add) is enforced
by the API routes themselves; this module only checks the key up front so a wrong one is a
plain HTTP 401 rather than an MCP session that fails on every call.

The tools a caller sees follow its key's role (``taskqueue_server.db.tenancy``): a role that
may write tasks (admin, producer) gets every tool; one that may only read (reader) gets the
read-only tools, and a call to a mutating one is a tool error naming the role; a role with
neither right (worker: claim, heartbeat, report only) is refused with 403.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api_core import problem_response
from taskqueue import AsyncTaskQueueClient, RetryConfig
from taskqueue.mcp import create_mcp_server
from taskqueue_server.api.deps import authenticate
from taskqueue_server.db.tenancy import ROLE_RIGHTS, Right, TenantScope
from taskqueue_server.errors import AuthenticationError, RateLimitedError, TaskQueueServerError

__all__ = ["mount_mcp"]

_INTERNAL_URL = "http://taskqueue.internal"


def _key_of(headers: Any) -> tuple[str | None, str | None]:
    """``(bearer key, X-API-Key)`` from request headers (either may be None)."""
    auth = headers.get("authorization") or ""
    scheme, _, credentials = auth.partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None
    return bearer, headers.get("x-api-key") or None


def mount_mcp(app: FastAPI, path: str = "/mcp") -> None:
    """Serve the MCP server at ``path`` on ``app`` (stateless Streamable HTTP, JSON answers).

    Args:
        app: The Task Queue app; its lifespan also runs the MCP session manager.
        path: Where to mount it.
    """

    @asynccontextmanager
    async def caller_client(ctx: Context) -> AsyncIterator[AsyncTaskQueueClient]:
        bearer, header_key = _key_of(ctx.headers or {})
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url=_INTERNAL_URL) as http,
            AsyncTaskQueueClient(
                _INTERNAL_URL,
                api_key=bearer or header_key or "",
                http_client=http,
                transport="httpx",
                retry=RetryConfig.none(),
            ) as client,
        ):
            yield client

    writers = ", ".join(_roles_with(Right.WRITE_TASKS))
    full = create_mcp_server(caller_client)
    reader = create_mcp_server(
        caller_client,
        read_only=True,
        refusal=f"this API key's role may only read; changing tasks needs one of: {writers}",
    )

    def new_managers() -> None:
        for server in (full, reader):
            server.streamable_http_app(
                stateless_http=True,
                json_response=True,
                # Callers authenticate with an API key in a header, never with ambient
                # browser credentials, so DNS rebinding gains an attacker nothing; any Host
                # may reach it.
                transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )

    new_managers()
    endpoint = _Endpoint(full, reader)
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        # A session manager runs once; each start of the app gets fresh ones.
        new_managers()
        async with (
            outer(a) as state,
            full.session_manager.run(),
            reader.session_manager.run(),
        ):
            yield state

    app.router.lifespan_context = lifespan
    app.router.routes.append(Route(path, endpoint))


def _roles_with(right: Right) -> list[str]:
    return sorted(str(role) for role, rights in ROLE_RIGHTS.items() if right in rights)


class _Endpoint:
    """The ASGI endpoint: the caller's key is checked by the API's own dependency, then the
    request goes to the MCP server for the key's role."""

    def __init__(self, full: MCPServer, reader: MCPServer) -> None:
        self._full = full
        self._reader = reader

    def _server_for(self, scope: TenantScope) -> MCPServer | None:
        if scope.may(Right.WRITE_TASKS):
            return self._full
        if scope.may(Right.READ):
            return self._reader
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        bearer, header_key = _key_of(request.headers)
        credentials = (
            HTTPAuthorizationCredentials(scheme="Bearer", credentials=bearer) if bearer else None
        )
        try:
            caller = await authenticate(request, credentials, header_key)
        except TaskQueueServerError as exc:
            headers: dict[str, str] = {}
            if isinstance(exc, AuthenticationError):
                headers["WWW-Authenticate"] = 'Bearer realm="taskqueue"'
            if isinstance(exc, RateLimitedError):
                headers["Retry-After"] = str(exc.retry_after)
            response = problem_response(
                request, exc.status, title=exc.title, detail=exc.message, headers=headers
            )
            await response(scope, receive, send)
            return
        server = self._server_for(caller)
        if server is None:
            readers = ", ".join(_roles_with(Right.READ))
            forbidden = problem_response(
                request,
                403,
                title="Forbidden",
                detail=f"this API key's role is {caller.role}; the MCP tools need one of: "
                f"{readers}",
            )
            await forbidden(scope, receive, send)
            return
        await server.session_manager.handle_request(scope, receive, send)
