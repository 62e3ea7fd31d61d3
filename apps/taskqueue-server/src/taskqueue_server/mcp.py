"""The Task Queue MCP server on Streamable HTTP at ``/mcp``, acting with each caller's key.

The tools (``taskqueue.mcp``, the SDK's ``[mcp]`` extra) call this same app in-process through
the SDK client on an ASGI transport, carrying the API key the MCP request came with. So every
rule (authentication, rate limits, validation, and whatever tenants and roles add) is enforced
by the API routes themselves; this module only checks the key up front so a wrong one is a
plain HTTP 401 rather than an MCP session that fails on every call.
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

    server = create_mcp_server(caller_client)

    def new_manager() -> None:
        server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            # Callers authenticate with an API key in a header, never with ambient browser
            # credentials, so DNS rebinding gains an attacker nothing; any Host may reach it.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    new_manager()
    endpoint = _Endpoint(server)
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        # A session manager runs once; each start of the app gets a fresh one.
        new_manager()
        async with outer(a) as state, server.session_manager.run():
            yield state

    app.router.lifespan_context = lifespan
    app.router.routes.append(Route(path, endpoint))


class _Endpoint:
    """The ASGI endpoint: the caller's key is checked by the API's own dependency, then the
    request goes to the MCP session manager."""

    def __init__(self, server: MCPServer) -> None:
        self._server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        bearer, header_key = _key_of(request.headers)
        credentials = (
            HTTPAuthorizationCredentials(scheme="Bearer", credentials=bearer) if bearer else None
        )
        try:
            await authenticate(request, credentials, header_key)
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
        await self._server.session_manager.handle_request(scope, receive, send)
