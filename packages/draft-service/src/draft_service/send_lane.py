"""``POST /send-messages/`` without FastAPI's per-request machinery, for requests it accepts.

The send route is the service's hottest path, and much of its CPU was not the work: routing
through the included routers, reading the body, parsing its content type with
``email.message``, solving dependencies and serialising the answer took about two fifths
of a request's CPU, the database write and the enqueue a third. :class:`SendLane` sits first
in the app's routes and answers the requests that will succeed, the way the FastAPI route
does: a ``Bearer`` service key, ``Content-Type: application/json``, a body the model accepts,
within the user's rate limit. Everything else (no or a read-only key, another content type,
invalid JSON or fields) goes on, with the body it read, to the FastAPI route, so every error
answer is that route's own. The OpenAPI document still describes the FastAPI route.

Exceptions raised while sending (the rate limit's 429, a database error) reach the app's
exception handlers as they do from the route. The lane is not installed when telemetry is on,
so every request keeps its FastAPI spans.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Message, Receive, Scope, Send

from draft_service.auth import key_access
from draft_service.models import AcceptedResponse, SendMessagesRequest

if TYPE_CHECKING:
    from starlette.datastructures import URLPath

    from draft_service.runtime import Runtime

__all__ = ["SEND_PATH", "SendLane", "check_rate_limit", "job_location"]

SEND_PATH = "/send-messages/"
"""The path the lane answers (``POST`` only, at the app's root)."""
_PASSED = "draft_service.send_lane.passed"
_JSON = b"application/json"


class SendLane(BaseRoute):
    """The first route of the draft app: ``POST /send-messages/`` requests that will succeed
    are answered here; the others go on to the FastAPI route unchanged (see the module)."""

    path_format = SEND_PATH
    """The route's template, as FastAPI's telemetry and access logs name routes."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """A full match for ``POST /send-messages/`` at the app's root, once per request."""
        if (
            scope["type"] == "http"
            and scope["path"] == SEND_PATH
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and _PASSED not in scope
        ):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The lane has no name of its own: ``url_path_for`` finds the FastAPI route."""
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request, or hand it, with its body, to the FastAPI route."""
        body = await _read_body(receive)
        if body is None:  # the client went away before sending its body
            return
        runtime: Runtime = scope["app"].state.runtime
        request = _accepted(scope, body, runtime)
        if request is None:
            scope[_PASSED] = True
            await scope["router"](scope, _replay(body, receive), send)
            return
        await check_rate_limit(runtime, request.user_id)
        job_id = await runtime.service.send_messages(request)
        content = AcceptedResponse(job_id=job_id).model_dump_json().encode()
        location = job_location(job_id, request.user_id)
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [
                    (b"content-length", str(len(content)).encode()),
                    (b"content-type", _JSON),
                    (b"location", location.encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


def job_location(job_id: str, user_id: str) -> str:
    """The ``Location`` of an accepted job: ``/jobs/{job_id}?user_id=...``."""
    return f"/jobs/{job_id}?user_id={quote(user_id, safe='')}"


async def check_rate_limit(runtime: Runtime, user_id: str) -> None:
    """Count one write of ``user_id``; 429 with ``Retry-After`` over the per-minute budget.

    Raises:
        HTTPException: 429, the user's writes this minute are over
            ``DRAFTS_RATE_LIMIT_PER_MINUTE``.
    """
    if runtime.limiter is None:
        return
    wait = await runtime.limiter.hit(user_id)
    if wait is not None:
        per_minute = runtime.settings.rate_limit_per_minute
        raise HTTPException(
            429,
            detail=f"more than {per_minute} writes this minute for this user; retry after "
            f"{wait} s (the limit is DRAFTS_RATE_LIMIT_PER_MINUTE)",
            headers={"Retry-After": str(wait)},
        )


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; ``None`` when the client disconnected first. A body over the
    app's limit raises from ``receive`` (the body-limit middleware answers 413)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` first, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _accepted(scope: Scope, body: bytes, runtime: Runtime) -> SendMessagesRequest | None:
    """The validated request, when the FastAPI route would accept it; ``None`` otherwise."""
    authorization: str | None = None
    content_type: bytes | None = None
    for key, value in scope["headers"]:
        if key == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif key == b"content-type" and content_type is None:
            content_type = value
    if content_type != _JSON or not body:
        return None
    scheme, credentials = get_authorization_scheme_param(authorization)
    if scheme.lower() != "bearer" and not runtime.settings.auth_disabled:
        return None
    if key_access(runtime.settings, credentials) != "full":
        return None
    try:
        return SendMessagesRequest.model_validate(json.loads(body))
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError included
        return None
