"""``GET /ui/events``: the signed-in tenant's task events as Server-Sent Events.

Each event becomes ``changed`` (pages refetch their live parts through the scoped stores),
``task-<id>`` (an open task page refetches) and, for tasks, ``activity`` (a list item for
the overview's activity list). Events of another tenant, and of projects the key may not
see, are never sent. The stream ends when the session does.

``changed`` and ``task-<id>`` are hints to refetch, so a burst of events is coalesced
(:class:`Coalescer`): a hint goes out at once when its last one is older than
``COALESCE_SECONDS``, otherwise once at the end of that window, so a page refetches at most
a few times a second and always after the last change (a client-side throttle would drop
the last event of a burst, and the page would miss it).
"""

from __future__ import annotations

import asyncio
import contextlib
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

__all__ = ["COALESCE_SECONDS", "KEEPALIVE_SECONDS", "Coalescer", "sse_message", "stream_routes"]

KEEPALIVE_SECONDS = 15.0
"""Seconds between keep-alive comments (and session re-checks) on a quiet stream."""
COALESCE_SECONDS = 0.25
"""The shortest time between two hints of one name on a stream (see :class:`Coalescer`)."""
_PENDING_MAX = 1000  # events read ahead of a slow stream; beyond, the pump waits

_log = get_logger(__name__)


def sse_message(event: str, data: str) -> str:
    """One SSE message; ``data`` may span lines."""
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


class Coalescer:
    """Rate-limits hints per name without losing the last one (leading and trailing edge).

    Args:
        window: The shortest time between two hints of one name, in the clock's seconds.
    """

    def __init__(self, window: float) -> None:
        self.window = window
        self._sent: dict[str, float] = {}
        self._due: dict[str, float] = {}

    def offer(self, name: str, now: float) -> bool:
        """True: send ``name`` now. False: it is held and comes out of :meth:`flush`."""
        last = self._sent.get(name)
        if last is None or now - last >= self.window:
            self._sent[name] = now
            self._due.pop(name, None)
            if len(self._sent) > 4 * _PENDING_MAX:  # forget hints too old to matter
                self._sent = {n: t for n, t in self._sent.items() if now - t < self.window}
            return True
        self._due.setdefault(name, last + self.window)
        return False

    def flush(self, now: float) -> list[str]:
        """The held hints whose window has ended, marked sent."""
        ready = [name for name, due in self._due.items() if due <= now]
        for name in ready:
            del self._due[name]
            self._sent[name] = now
        return ready

    def next_due(self) -> float | None:
        """When the next held hint is due, if any."""
        return min(self._due.values(), default=None)


async def _pump(source: AsyncIterator[Event | None], into: asyncio.Queue[Any]) -> None:
    """Move the feed's items into ``into``; a failure is handed over to be raised there."""
    try:
        async for item in source:
            await into.put(item)
    except Exception as exc:  # the stream raises it (not swallowed)
        await into.put(exc)


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
            loop = asyncio.get_running_loop()
            hints = Coalescer(COALESCE_SECONDS)
            pending: asyncio.Queue[Any] = asyncio.Queue(_PENDING_MAX)
            pump = asyncio.create_task(
                _pump(console.feed.subscribe(scope.tenant, KEEPALIVE_SECONDS), pending)
            )
            try:
                while True:
                    due = hints.next_due()
                    wait = None if due is None else max(0.0, due - loop.time())
                    try:
                        item = await asyncio.wait_for(pending.get(), wait)
                    except TimeoutError:
                        for name in hints.flush(loop.time()):
                            yield sse_message(name, "")
                        continue
                    if isinstance(item, Exception):
                        raise item
                    if await request.is_disconnected():
                        return
                    if item is None:
                        try:
                            await console.visit(request)  # the key may have been revoked
                        except SignInRequiredError:
                            _log.info("console stream ended: session over", tenant=scope.tenant)
                            yield sse_message("signed-out", "")
                            return
                        yield ": keep-alive\n\n"
                        continue
                    for message in _messages(item, scope, hints, loop.time(), prefix):
                        yield message
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump

        def _messages(
            event: Event, scope: TenantScope, hints: Coalescer, now: float, prefix: str
        ) -> list[str]:
            data = _visible(scope, event)
            if data is None:
                return []
            out = [sse_message(name, "") for name in hints.flush(now)]
            if hints.offer("changed", now):
                out.append(sse_message("changed", event.event_type))
            if event.event_type.startswith("task."):
                name = f"task-{data.get('id')}"
                if hints.offer(name, now):
                    out.append(sse_message(name, event.event_type))
                html = activity.render(
                    prefix=prefix,
                    task=data,
                    event_type=event.event_type,
                    at=event.timestamp.strftime("%H:%M:%S"),
                )
                out.append(sse_message("activity", html))
            return out

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
