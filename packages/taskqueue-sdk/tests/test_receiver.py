"""WebhookHandler: verification over HTTP, duplicates, size limit, dispatch, serving."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from platform_core.testing.services import free_port
from taskqueue.models import WebhookEvent, WebhookEventType
from taskqueue.receiver import WebhookHandler
from taskqueue.webhooks import generate_secret, webhook_headers

SECRET = generate_secret()


def _body(kind: str = "task.completed") -> bytes:
    return json.dumps({"type": kind, "timestamp": "2026-01-01T00:00:00Z", "data": {}}).encode()


@pytest.fixture
def handler() -> WebhookHandler:
    return WebhookHandler(SECRET, max_body_bytes=2048)


@pytest.fixture
async def http(handler: WebhookHandler) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=handler.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        yield client


async def test_valid_event_reaches_its_callback_and_the_catch_all(
    handler: WebhookHandler, http: httpx.AsyncClient
) -> None:
    got: list[str] = []

    @handler.on("task.completed")
    async def on_done(event: WebhookEvent) -> None:
        got.append(f"done:{event.type}")

    @handler.on("*")
    def on_any(event: WebhookEvent) -> None:
        got.append(f"any:{event.type}")

    @handler.on(WebhookEventType.TASK_FAILED)
    def on_failed(event: WebhookEvent) -> None:
        got.append("failed")

    body = _body()
    response = await http.post("/webhooks", content=body, headers=webhook_headers(SECRET, body))
    assert response.status_code == 200
    assert got == ["done:task.completed", "any:task.completed"]


async def test_replayed_id_is_acknowledged_but_handled_once(
    handler: WebhookHandler, http: httpx.AsyncClient
) -> None:
    calls: list[WebhookEvent] = []
    handler.on("*")(calls.append)
    body = _body()
    headers = webhook_headers(SECRET, body, msg_id="msg_1")
    first = await http.post("/webhooks", content=body, headers=headers)
    second = await http.post("/webhooks", content=body, headers=headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"status": "duplicate"}
    assert len(calls) == 1


@pytest.mark.parametrize(
    "tamper",
    ["body", "secret", "old", "future"],
)
async def test_bad_requests_are_rejected_with_400(
    handler: WebhookHandler, http: httpx.AsyncClient, tamper: str
) -> None:
    calls: list[WebhookEvent] = []
    handler.on("*")(calls.append)
    body = _body()
    now = int(time.time())
    secret = generate_secret() if tamper == "secret" else SECRET
    stamp = {"old": now - 3600, "future": now + 3600}.get(tamper, now)
    headers = webhook_headers(secret, body, timestamp=stamp)
    sent = body.replace(b"completed", b"failed") if tamper == "body" else body
    response = await http.post("/webhooks", content=sent, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert calls == []


async def test_rotation_accepts_either_secret(http: httpx.AsyncClient) -> None:
    old, new = generate_secret(), generate_secret()
    rotating = WebhookHandler([old, new])
    transport = httpx.ASGITransport(app=rotating.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
        for secret in (old, new):
            body = _body()
            response = await client.post(
                "/webhooks", content=body, headers=webhook_headers(secret, body)
            )
            assert response.status_code == 200


async def test_oversized_body_is_rejected_with_413(http: httpx.AsyncClient) -> None:
    body = json.dumps(
        {"type": "task.completed", "timestamp": "2026-01-01T00:00:00Z", "data": {"x": "y" * 4096}}
    ).encode()
    response = await http.post("/webhooks", content=body, headers=webhook_headers(SECRET, body))
    assert response.status_code == 413


def test_unknown_event_type_cannot_be_registered(handler: WebhookHandler) -> None:
    with pytest.raises(ValueError, match=r"unknown webhook event type 'task\.exploded'"):
        handler.on("task.exploded")


def test_server_receives_over_real_http(handler: WebhookHandler) -> None:
    got = threading.Event()
    handler.on("task.completed")(lambda event: got.set())
    port = free_port()
    server = handler.server(port, log_level="critical")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        body = _body()
        response = httpx.post(
            f"http://127.0.0.1:{port}/webhooks", content=body, headers=webhook_headers(SECRET, body)
        )
        assert response.status_code == 200
        assert got.is_set()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def test_concurrent_deliveries_of_one_id_run_the_callback_once(
    handler: WebhookHandler, http: httpx.AsyncClient
) -> None:
    calls: list[str] = []
    release = asyncio.Event()

    @handler.on("*")
    async def slow(event: WebhookEvent) -> None:
        calls.append(str(event.type))
        await release.wait()

    body = _body()
    headers = webhook_headers(SECRET, body, msg_id="msg_concurrent")
    sends = [
        asyncio.create_task(http.post("/webhooks", content=body, headers=headers)) for _ in range(5)
    ]
    for _ in range(100):  # the first delivery is inside the callback, the others answered
        if calls and sum(s.done() for s in sends) == 4:
            break
        await asyncio.sleep(0.01)
    release.set()
    answers = await asyncio.gather(*sends)
    assert calls == ["task.completed"]
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409, 409, 409, 409]
    busy = next(a for a in answers if a.status_code == 409)
    assert busy.headers["Retry-After"] == "1"
    later = await http.post("/webhooks", content=body, headers=headers)
    assert later.json() == {"status": "duplicate"}
    assert calls == ["task.completed"]


async def test_a_failed_callback_releases_the_id_for_redelivery(
    handler: WebhookHandler,
) -> None:
    attempts: list[int] = []

    @handler.on("*")
    def flaky(event: WebhookEvent) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database down")

    body = _body()
    headers = webhook_headers(SECRET, body, msg_id="msg_flaky")
    transport = httpx.ASGITransport(app=handler.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
        first = await http.post("/webhooks", content=body, headers=headers)
        second = await http.post("/webhooks", content=body, headers=headers)
        third = await http.post("/webhooks", content=body, headers=headers)
    assert first.status_code == 500
    assert second.status_code == 200
    assert second.json() == {"status": "ok"}
    assert third.json() == {"status": "duplicate"}
    assert len(attempts) == 2
