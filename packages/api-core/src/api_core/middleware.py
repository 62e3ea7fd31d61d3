"""Pure ASGI middleware: request ids and the request body size limit."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_core.problems import problem_response
from platform_core.logging import bind_context, get_logger, unbind_context

__all__ = ["BodySizeLimitMiddleware", "RequestIdMiddleware", "log_request_at"]

_log = get_logger("api_core.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


_LEVEL_KEY = "access_log_level"


def log_request_at(request: Request, level: int) -> None:
    """Write this request's ``request finished`` line at ``level`` instead of INFO.

    For routes polled in a loop: e.g. a claim that found nothing logs at DEBUG, so idle
    workers do not fill the log.

    Args:
        request: The request being handled.
        level: A :mod:`logging` level, e.g. ``logging.DEBUG``.
    """
    setattr(request.state, _LEVEL_KEY, level)


class RequestIdMiddleware:
    """Give every request an id: the caller's header when it is sane, else a new UUID.

    The id is stored in ``request.state.request_id``, bound to every log line of the request
    (``request_id``), echoed in the response header and logged with the status and duration
    (at INFO, or the level a route chose with :func:`log_request_at`).

    Args:
        app: The wrapped ASGI app.
        header: The header name, ``X-Request-ID`` by default.
    """

    def __init__(self, app: ASGIApp, header: str = "X-Request-ID") -> None:
        self.app = app
        self.header = header
        self._raw = header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (HTTP only; other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == self._raw), b"").decode("latin-1")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["request_id_header"] = self.header
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                if self.header not in headers:
                    headers.append(self.header, request_id)
            await send(message)

        tokens = bind_context(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _log.log(
                state.get(_LEVEL_KEY, logging.INFO),
                "request finished",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            unbind_context(tokens)


class _PayloadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"The request body exceeds the limit of {limit} bytes; send a smaller body."
        )


class BodySizeLimitMiddleware:
    """Reject request bodies larger than ``max_body_size`` bytes with 413.

    A declared ``Content-Length`` over the limit is refused before the app runs; a chunked
    (or lying) body is counted while it is read and refused as soon as it passes the limit.

    Args:
        app: The wrapped ASGI app.
        max_body_size: The largest accepted body in bytes.
    """

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (HTTP only; other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_size
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    error = _PayloadTooLarge(limit)
                    response = problem_response(Request(scope), 413, detail=str(error.detail))
                    await response(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _PayloadTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _PayloadTooLarge as exc:
            if started:
                raise
            response = problem_response(Request(scope), 413, detail=str(exc.detail))
            await response(scope, receive, send)
