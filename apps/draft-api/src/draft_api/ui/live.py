"""Live updates of the inbox pages: Server-Sent Events carrying HTML for htmx's SSE extension.

``GET {prefix}/live?user=`` follows the user's event channel: on each event it sends the
threads list re-rendered (``threads``) and ``changed-<thread id>``, which that thread's page
refreshes its draft panel on. ``GET {prefix}/jobs/{job_id}/live?user=`` follows one job: its
state as text (``state``), the text as the model writes it (``delta``, HTML-escaped) and
``end``.
Both read the service's event feed, so they carry events of worker processes too.
"""

import re
from collections.abc import AsyncIterator
from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from sse_starlette import EventSourceResponse

from api_core.web import WebSession, WebUI
from draft_api.ui import queries
from draft_api.ui.common import InboxError, render_fragment, runtime, user_of
from draft_api.ui.pages import UserQuery
from draft_service.errors import NotFoundError

__all__ = ["live_routes"]

_FINAL = frozenset({"done", "truncated", "failed", "discarded"})
_EVENT_ID = re.compile(r"\d{1,20}(-\d{1,20})?")
_STATE_TEXT = {
    "queued": "Waiting for the model…",
    "running": "The model is writing…",
    "done": "Finished.",
    "truncated": "Stopped at the token limit.",
    "failed": "Failed.",
    "discarded": "Discarded.",
}
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=48)]


def _resume(last_event_id: str | None) -> str | None:
    if last_event_id is None or not _EVENT_ID.fullmatch(last_event_id):
        return None  # a browser only sends ids this stream gave it; anything else starts over
    return last_event_id


def live_routes(web: WebUI) -> APIRouter:
    """The inbox's two event streams, behind sign-in."""
    router = web.page_router()
    session_dep = Annotated[WebSession, Depends(web.session)]

    @router.get("/live")
    async def user_live(
        request: Request,
        session: session_dep,
        user: UserQuery = None,
        last_event_id: LastEventId = None,
    ) -> EventSourceResponse:
        who = user_of(user)
        rt = runtime(request)
        after = _resume(last_event_id)

        async def stream() -> AsyncIterator[dict[str, str]]:
            async for entry in rt.feed.read(f"user:{who}", after):
                rows = await queries.threads(rt.engine, who)
                html = render_fragment(
                    request, web, session, "_rows.html", {"user": who, "rows": rows}
                )
                yield {"event": "threads", "data": html}
                payload = entry.event.payload
                thread_id = None
                if isinstance(payload.get("job_id"), str):
                    thread_id = await queries.job_thread(rt.engine, who, payload["job_id"])
                if thread_id is None and isinstance(payload.get("draft_id"), str):
                    thread_id = await queries.draft_thread(rt.engine, who, payload["draft_id"])
                # A thread page refreshes its draft panel on its own thread's events only (a
                # refresh would drop feedback being typed).
                event = "changed" if thread_id is None else f"changed-{thread_id}"
                yield {"event": event, "data": entry.event.event_type, "id": entry.id}

        return EventSourceResponse(stream(), ping=15)

    @router.get("/jobs/{job_id}/live")
    async def job_live(
        request: Request,
        session: session_dep,
        job_id: str,
        user: UserQuery = None,
        last_event_id: LastEventId = None,
    ) -> EventSourceResponse:
        who = user_of(user)
        rt = runtime(request)
        try:
            view = await rt.service.job_view(job_id, who)
        except NotFoundError as exc:
            raise InboxError(404, "Job not found", f"{exc}.") from exc
        after = _resume(last_event_id)

        async def stream() -> AsyncIterator[dict[str, str]]:
            if view.status in _FINAL:
                yield {"event": "end", "data": view.status}
                return
            yield {"event": "state", "data": _STATE_TEXT[view.status]}
            async for entry in rt.feed.read(f"job:{job_id}", after or "0"):
                kind, payload = entry.event.event_type, entry.event.payload
                if kind == "delta":
                    text = escape(str(payload.get("text", "")))
                    yield {"event": "delta", "data": text, "id": entry.id}
                    continue
                status = str(payload.get("status", ""))
                if kind != "state" or status not in _STATE_TEXT:
                    continue
                if status in _FINAL:
                    # A retried job's channel still holds its earlier run's end: only the end
                    # the database agrees with closes the stream.
                    if (await rt.service.job_view(job_id, who)).status not in _FINAL:
                        continue
                    yield {"event": "state", "data": _STATE_TEXT[status], "id": entry.id}
                    yield {"event": "end", "data": status}
                    return
                yield {"event": "state", "data": _STATE_TEXT[status], "id": entry.id}

        return EventSourceResponse(stream(), ping=15)

    return router
