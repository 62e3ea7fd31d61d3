"""The draft service's MCP server on Streamable HTTP at ``/mcp``, acting with each caller's key.

The tools (``draft_service.mcp``) call this same app in-process over an ASGI transport,
carrying the API key the MCP request came with, so authentication, validation, ownership and
rate limits are the API routes' own. A job's progress is read from the service's event feed
directly (an in-process HTTP response arrives only once complete, which would hold every
progress notification back to the end). This module checks the key up front, so a wrong one
is a plain HTTP 401 rather than an MCP session that fails on every call; the read-only key
(``DRAFTS_READ_ONLY_API_KEY``) gets the read-only tools only.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api_core import problem_response
from draft_service import DraftSettings
from draft_service.auth import key_access
from draft_service.mcp import FINAL_JOB_STATES, DraftApiClient, JobEvent, create_mcp_server

__all__ = ["mount_mcp"]

_INTERNAL_URL = "http://draft-api.internal"


def _bearer(headers: Any) -> str:
    scheme, _, credentials = (headers.get("authorization") or "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def mount_mcp(app: FastAPI, settings: DraftSettings, path: str = "/mcp") -> None:
    """Serve the MCP server at ``path`` on ``app`` (stateless Streamable HTTP; a tool that
    drafts answers as an event stream, so its progress notifications arrive as they happen).

    Args:
        app: The draft API app; its lifespan also runs the MCP session manager.
        settings: The service's settings (the API key and whether auth is off).
        path: Where to mount it.
    """

    async def feed_events(job_id: str, _user_id: str) -> AsyncGenerator[JobEvent, None]:
        # The API's GET /jobs/{id} (called first by the tool) already checked the owner.
        async for entry in app.state.runtime.feed.read(f"job:{job_id}", "0"):
            event = entry.event
            yield event.event_type, dict(event.payload)
            if event.event_type == "state" and event.payload.get("status") in FINAL_JOB_STATES:
                return

    @asynccontextmanager
    async def caller_client(ctx: Context) -> AsyncIterator[DraftApiClient]:
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url=_INTERNAL_URL) as http,
            DraftApiClient(
                _INTERNAL_URL,
                _bearer(ctx.headers or {}),
                http_client=http,
                job_events=feed_events,
            ) as client,
        ):
            yield client

    full = create_mcp_server(caller_client)
    reader = create_mcp_server(
        caller_client,
        read_only=True,
        refusal="this API key is read-only (DRAFTS_READ_ONLY_API_KEY); changing drafts needs "
        "DRAFTS_API_KEY",
    )

    def new_managers() -> None:
        for server in (full, reader):
            server.streamable_http_app(
                stateless_http=True,
                json_response=False,
                # Callers authenticate with an API key in a header, never with ambient
                # browser credentials, so DNS rebinding gains an attacker nothing; any Host
                # may reach it.
                transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )

    new_managers()
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
    app.router.routes.append(Route(path, _Endpoint(full, reader, settings)))


class _Endpoint:
    """The ASGI endpoint: the caller's key is checked as the API checks it, then the request
    goes to the MCP session manager."""

    def __init__(self, full: MCPServer, reader: MCPServer, settings: DraftSettings) -> None:
        self._full = full
        self._reader = reader
        self._settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        access = key_access(self._settings, _bearer(request.headers))
        if access is None:
            response = problem_response(
                request,
                401,
                title="Unauthorized",
                detail="send the service API key as 'Authorization: Bearer <DRAFTS_API_KEY>'",
                headers={"WWW-Authenticate": 'Bearer realm="draft-service"'},
            )
            await response(scope, receive, send)
            return
        server = self._full if access == "full" else self._reader
        await server.session_manager.handle_request(scope, receive, send)
