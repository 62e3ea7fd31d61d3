"""Live progress as Server-Sent Events, read from the service's event feed.

``GET /jobs/{job_id}/events`` sends the job's current state, then its state changes and the
text as it streams from the model (``delta``), and ends after a final state.
``GET /users/{user_id}/events`` sends ``job.queued``, ``job.failed``, ``draft.ready``,
``draft.truncated``, ``draft.superseded``, ``draft.rejected`` and ``draft.sent`` as they
happen. Each event's ``id`` is its position in the feed (a necrostack feed): a client that
reconnects with ``Last-Event-ID`` gets what it missed, in order. With ``DRAFTS_REDIS_URL``
the feed is on Redis, so events written by worker processes reach clients
of any API process.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from sse_starlette import EventSourceResponse

from api_core import ProblemError
from api_core.storable import StorableStr
from draft_service.errors import NotFoundError
from draft_service.runtime import Runtime

__all__ = ["event_routes"]

_FINAL = frozenset({"done", "truncated", "failed", "discarded"})
_EVENT_ID = re.compile(r"\d{1,20}(-\d{1,20})?")
LastEventId = Annotated[
    str | None,
    Header(alias="Last-Event-ID", max_length=48, description="Resume after this event id."),
]


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _resume_from(last_event_id: str | None) -> str | None:
    if last_event_id is None:
        return None
    if not _EVENT_ID.fullmatch(last_event_id):
        raise ProblemError(
            422, "Unprocessable Content", "Last-Event-ID must be an event id this API sent"
        )
    return last_event_id


def _sse(entry_id: str | None, event_type: str, payload: dict[str, Any]) -> dict[str, str]:
    message = {"event": event_type, "data": json.dumps(payload, separators=(",", ":"))}
    if entry_id is not None:
        message["id"] = entry_id
    return message


def event_routes(dependencies: list[Any]) -> APIRouter:
    """The two event-stream routes, behind ``dependencies`` (the API key check)."""
    router = APIRouter(dependencies=dependencies)

    @router.get("/jobs/{job_id}/events", response_class=EventSourceResponse)
    async def job_events(
        job_id: StorableStr,
        user_id: StorableStr,
        runtime: Annotated[Runtime, Depends(_runtime)],
        last_event_id: LastEventId = None,
    ) -> EventSourceResponse:
        """The job's state changes and token deltas (``text/event-stream``); the owner only."""
        after = _resume_from(last_event_id)
        try:
            view = await runtime.service.job_view(job_id, user_id)
        except NotFoundError as exc:
            raise ProblemError(404, "Not Found", str(exc)) from exc

        async def stream() -> AsyncIterator[dict[str, str]]:
            if after is None:
                # The state now (no id: it is not a position to resume from), then the job's
                # whole channel, so nothing between this read and the first event is missed.
                snapshot = {"job_id": job_id, "status": view.status}
                if view.draft_message_id:
                    snapshot["draft_id"] = view.draft_message_id
                yield _sse(None, "state", snapshot)
                if view.status in _FINAL:
                    return
            async for entry in runtime.feed.read(f"job:{job_id}", after or "0"):
                payload = entry.event.payload
                yield _sse(entry.id, entry.event.event_type, payload)
                if entry.event.event_type == "state" and payload.get("status") in _FINAL:
                    return

        return EventSourceResponse(stream(), ping=15)

    @router.get("/users/{user_id}/events", response_class=EventSourceResponse)
    async def user_events(
        user_id: StorableStr,
        runtime: Annotated[Runtime, Depends(_runtime)],
        last_event_id: LastEventId = None,
    ) -> EventSourceResponse:
        """The user's jobs queued or failed, drafts ready, superseded, rejected or sent
        (``text/event-stream``)."""
        after = _resume_from(last_event_id)

        async def stream() -> AsyncIterator[dict[str, str]]:
            async for entry in runtime.feed.read(f"user:{user_id}", after):
                yield _sse(entry.id, entry.event.event_type, entry.event.payload)

        return EventSourceResponse(stream(), ping=15)

    return router
