"""``WebhookHandler``: a small FastAPI app that verifies webhooks and dispatches them.

Needs the ``taskqueue-sdk[webhooks]`` extra (FastAPI and uvicorn).

Example::

    handler = WebhookHandler(secret="whsec_...")

    @handler.on("task.completed")
    async def done(event: WebhookEvent) -> None:
        print(event.task().name)

    handler.run(port=8081)
"""

from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from platform_core.errors import MissingExtraError
from platform_core.logging import get_logger
from taskqueue.errors import WebhookVerificationError
from taskqueue.models import WebhookEvent, WebhookEventType
from taskqueue.webhooks import DEFAULT_TOLERANCE, verify_webhook

try:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("WebhookHandler", "taskqueue-sdk[webhooks]", exc.name) from exc

__all__ = ["EventCallback", "WebhookHandler"]

EventCallback = Callable[[WebhookEvent], Awaitable[None] | None]
F = TypeVar("F", bound=EventCallback)
_log = get_logger("taskqueue.receiver")


class _TooLargeError(Exception):
    pass


class WebhookHandler:
    """Receive Task Queue webhooks: verify, drop duplicates, call the registered functions.

    Answers 200 when the event was handled (or was a duplicate), 400 when verification
    fails, 413 when the body is over ``max_body_bytes``, and 500 when a callback raised, so
    the sender retries later.

    Each ``webhook-id`` is claimed atomically before the callbacks run, so concurrent
    deliveries of one message run them once: the others get 409 with ``Retry-After`` while
    it is being handled (the sender retries; they then get 200 "duplicate"). A callback that
    raises releases the claim, so a redelivery runs it again. Claims are kept in this
    process's memory (the last ``remember`` ids).

    Args:
        secret: The subscription's ``whsec_`` secret, or several while rotating.
        path: The URL path to receive on.
        tolerance: Seconds a timestamp may be away from now.
        max_body_bytes: The largest body accepted.
        remember: How many recent ``webhook-id``s are kept to drop redeliveries.
    """

    def __init__(
        self,
        secret: str | Sequence[str],
        *,
        path: str = "/webhooks",
        tolerance: float = DEFAULT_TOLERANCE,
        max_body_bytes: int = 1_000_000,
        remember: int = 10_000,
    ) -> None:
        self.secret = secret
        self.path = path
        self.tolerance = tolerance
        self.max_body_bytes = max_body_bytes
        self._remember = remember
        # webhook-id -> True once handled, False while being handled.
        self._seen: OrderedDict[str, bool] = OrderedDict()
        self._claims = threading.Lock()
        self._callbacks: dict[str, list[EventCallback]] = {}
        self.app = FastAPI(title="Task Queue webhook receiver", openapi_url=None)
        self.app.add_api_route(path, self._receive, methods=["POST"])

    def on(self, event_type: WebhookEventType | str) -> Callable[[F], F]:
        """Register the decorated function for ``event_type`` (``"*"`` for every event).

        The function takes the :class:`WebhookEvent` and may be sync or async.

        Raises:
            ValueError: when ``event_type`` is not a known event type or ``"*"``.
        """
        key = str(event_type)
        if key != "*" and key not in {e.value for e in WebhookEventType}:
            known = ", ".join(e.value for e in WebhookEventType)
            raise ValueError(f"unknown webhook event type {key!r}; use one of: {known}, *")

        def register(func: F) -> F:
            self._callbacks.setdefault(key, []).append(func)
            return func

        return register

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _TooLargeError
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLargeError
            chunks.append(chunk)
        return b"".join(chunks)

    async def _receive(self, request: Request) -> JSONResponse:
        try:
            body = await self._body(request)
        except _TooLargeError:
            return _problem(413, f"body over {self.max_body_bytes} bytes")
        try:
            event = verify_webhook(request.headers, body, self.secret, self.tolerance)
        except WebhookVerificationError as exc:
            _log.warning("taskqueue.webhook.rejected", reason=exc.message)
            return _problem(400, exc.message)
        msg_id = request.headers["webhook-id"]
        with self._claims:  # check and claim in one step
            state = self._seen.get(msg_id)
            if state is None:
                self._seen[msg_id] = False
        if state is True:
            return JSONResponse({"status": "duplicate"})
        if state is False:
            return JSONResponse(
                {"status": "in progress"}, status_code=409, headers={"Retry-After": "1"}
            )
        try:
            await self.dispatch(event)
        except BaseException:
            with self._claims:  # released: a redelivery runs the callbacks again
                self._seen.pop(msg_id, None)
            raise
        with self._claims:
            self._seen[msg_id] = True
            while len(self._seen) > self._remember:
                self._seen.popitem(last=False)
        return JSONResponse({"status": "ok"})

    async def dispatch(self, event: WebhookEvent) -> None:
        """Call every function registered for the event's type, then the ``"*"`` ones."""
        for func in [*self._callbacks.get(event.type.value, []), *self._callbacks.get("*", [])]:
            result = func(event)
            if inspect.isawaitable(result):
                await result

    def server(self, port: int = 8081, host: str = "127.0.0.1", **config: Any) -> uvicorn.Server:
        """Return a uvicorn server for the app (for running it yourself, e.g. in a thread)."""
        cfg = uvicorn.Config(self.app, host=host, port=port, lifespan="off", ws="none", **config)
        return uvicorn.Server(cfg)

    def run(self, port: int = 8081, host: str = "127.0.0.1") -> None:
        """Serve until interrupted (blocking)."""
        self.server(port, host).run()


def _problem(status: int, detail: str) -> JSONResponse:
    titles = {400: "Webhook verification failed", 413: "Payload too large"}
    body = {"type": "about:blank", "title": titles[status], "status": status, "detail": detail}
    return JSONResponse(body, status, media_type="application/problem+json")
