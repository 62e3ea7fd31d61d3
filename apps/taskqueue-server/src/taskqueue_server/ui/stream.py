"""``GET /ui/events``: the signed-in tenant's task events as Server-Sent Events.

Each event becomes ``changed`` (pages refetch their live parts through the scoped stores),
``task-<id>`` (an open task page refetches) and, for tasks, ``activity`` (a list item for
the overview's activity list). Events of another tenant, and of projects the key may not
see, are never sent. The stream ends when the session does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from api_core.errors import SignInRequiredError
from necrostack import Event
from platform_core.logging import get_logger
from taskqueue_server.db.tenancy import Right, TenantScope
from taskqueue_server.ui.context import Console

__all__ = ["KEEPALIVE_SECONDS", "sse_message", "stream_routes"]

KEEPALIVE_SECONDS = 15.0
"""Seconds between keep-alive comments (and session re-checks) on a quiet stream."""

_log = get_logger(__name__)


def sse_message(event: str, data: str) -> str:
    """One SSE message; ``data`` may span lines."""
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


def _visible(scope: TenantScope, event: Event) -> dict[str, Any] | None:
    """The event's task or project when ``scope`` may see it, else None."""
    payload = event.payload
    if payload.get("tenant") != scope.tenant:  # tenant filter (the feed is per tenant too)
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        return None
    raw = data.get("project_id") if event.event_type.startswith("task.") else data.get("id")
    try:
        project = uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None
    return data if scope.allows_project(project) else None


def stream_routes(console: Console) -> APIRouter:
    """The ``/ui/events`` route."""
    router = console.web.page_router()
    activity = console.web.templates.get_template("taskqueue_ui/activity_item.html")

    @router.get("/events")
    async def events(request: Request) -> Response:
        visit = await console.visit(request)
        if (refused := console.need(visit, Right.READ)) is not None:
            return refused
        scope = visit.scope
        prefix = request.scope.get("root_path", "").rstrip("/") + console.web.prefix

        async def stream() -> AsyncIterator[str]:
            yield "retry: 2000\n\n"
            async for event in console.feed.subscribe(scope.tenant, KEEPALIVE_SECONDS):
                if await request.is_disconnected():
                    return
                if event is None:
                    try:
                        await console.visit(request)  # the key may have been revoked
                    except SignInRequiredError:
                        _log.info("console stream ended: session over", tenant=scope.tenant)
                        yield sse_message("signed-out", "")
                        return
                    yield ": keep-alive\n\n"
                    continue
                data = _visible(scope, event)
                if data is None:
                    continue
                yield sse_message("changed", event.event_type)
                if event.event_type.startswith("task."):
                    yield sse_message(f"task-{data.get('id')}", event.event_type)
                    html = activity.render(
                        prefix=prefix,
                        task=data,
                        event_type=event.event_type,
                        at=event.timestamp.strftime("%H:%M:%S"),
                    )
                    yield sse_message("activity", html)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
