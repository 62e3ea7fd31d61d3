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

The ``mcp`` package (about 40% of the app's import time) is imported, and its servers built
and started, on the first authenticated request to ``/mcp``, not when the app is created: a
server or test process that never serves MCP does not pay for it. The servers' session
managers then run in a task of their own until the app's lifespan ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api_core import problem_response
from taskqueue_server.api.deps import authenticate
from taskqueue_server.db.tenancy import ROLE_RIGHTS, Right
from taskqueue_server.errors import AuthenticationError, RateLimitedError, TaskQueueServerError

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

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
        app: The Task Queue app; its lifespan also stops the MCP session managers.
        path: Where to mount it.
    """
    endpoint = _Endpoint(app)
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        # Session managers run once; each start of the app gets fresh ones, on first use.
        async with outer(a) as state:
            try:
                yield state
            finally:
                await endpoint.stop()

    app.router.lifespan_context = lifespan
    app.router.routes.append(Route(path, endpoint))


def _roles_with(right: Right) -> list[str]:
    return sorted(str(role) for role, rights in ROLE_RIGHTS.items() if right in rights)


def _build_servers(app: FastAPI) -> tuple[MCPServer, MCPServer]:
    """Import ``mcp`` and build the full and the read-only server (run in a thread)."""
    import httpx
    from mcp.server.mcpserver import Context
    from mcp.server.transport_security import TransportSecuritySettings

    from taskqueue import AsyncTaskQueueClient, RetryConfig
    from taskqueue.mcp import create_mcp_server

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
    for server in (full, reader):
        server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            # Callers authenticate with an API key in a header, never with ambient browser
            # credentials, so DNS rebinding gains an attacker nothing; any Host may reach it.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
    return full, reader


class _Endpoint:
    """The ASGI endpoint: the caller's key is checked by the API's own dependency, then the
    request goes to the MCP server for the key's role (started on first use)."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._lock = asyncio.Lock()
        self._servers: tuple[MCPServer, MCPServer] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None

    async def _started(self) -> tuple[MCPServer, MCPServer]:
        async with self._lock:
            if self._servers is not None and self._runner is not None:
                if not self._runner.done():
                    return self._servers
                self._runner.result()  # a runner that ended early raises its error here
            servers = await asyncio.to_thread(_build_servers, self._app)
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._stopping = asyncio.Event()
            self._runner = asyncio.create_task(self._run(servers, ready, self._stopping))
            await ready
            self._servers = servers
            return servers

    @staticmethod
    async def _run(
        servers: tuple[MCPServer, MCPServer], ready: asyncio.Future[None], stopping: asyncio.Event
    ) -> None:
        full, reader = servers
        try:
            async with full.session_manager.run(), reader.session_manager.run():
                ready.set_result(None)
                await stopping.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    async def stop(self) -> None:
        """Stop the session managers, if they were started (at the end of the lifespan)."""
        runner, stopping = self._runner, self._stopping
        self._servers = self._runner = self._stopping = None
        if runner is None or stopping is None:
            return
        stopping.set()
        await runner

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
        if not (caller.may(Right.WRITE_TASKS) or caller.may(Right.READ)):
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
        full, reader = await self._started()
        server = full if caller.may(Right.WRITE_TASKS) else reader
        await server.session_manager.handle_request(scope, receive, send)
