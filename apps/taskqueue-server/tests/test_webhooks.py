"""Webhook delivery: signatures, retries with backoff, 410 disabling, history, redelivery."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from taskqueue.webhooks import generate_secret, verify_webhook

Make = Callable[..., Any]


class Scripted:
    """A receiver answering with the scripted statuses in turn (the last one repeats)."""

    def __init__(self, statuses: list[int], delay: float = 0.0) -> None:
        self.statuses = statuses
        self.delay = delay
        self.received: list[tuple[dict[str, str], bytes]] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                scripted.received.append((dict(self.headers.items()), body))
                time.sleep(scripted.delay)
                index = min(len(scripted.received), len(scripted.statuses)) - 1
                self.send_response(scripted.statuses[index])
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    made: list[Scripted] = []

    def make(statuses: list[int], delay: float = 0.0) -> Scripted:
        made.append(Scripted(statuses, delay))
        return made[-1]

    yield make
    for receiver in made:
        receiver.httpd.shutdown()
        receiver.httpd.server_close()


async def _deliveries(http: Any, hook_id: str, want: Callable[[list[dict[str, Any]]], bool]) -> Any:
    for _ in range(200):
        page = (await http.get(f"/api/webhooks/{hook_id}/deliveries")).json()
        if want(page["deliveries"]):
            return page
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries never matched: {page}")


async def test_signed_delivery_retried_after_500_then_recorded(
    app_client: Make, scripted: Callable[[list[int]], Scripted]
) -> None:
    receiver = scripted([500, 200])
    secret = generate_secret()
    async with app_client(webhook_backoff_base=0.05, delivery_poll_interval=0.05) as (http, key):
        http.headers["X-API-Key"] = key
        hook = (
            await http.post(
                "/api/webhooks",
                json={"url": receiver.url, "events": ["task.created"], "secret": secret},
            )
        ).json()
        assert hook["secret"] == secret
        listed = (await http.get("/api/webhooks")).json()["webhooks"]
        assert [w.get("secret") for w in listed] == [None]
        await http.post("/api/tasks", json={"name": "a", "command": "true"})
        page = await _deliveries(http, hook["id"], lambda d: d and d[0]["status"] == "succeeded")
    [delivery] = page["deliveries"]
    assert delivery["attempts"] == 2
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 200]
    assert delivery["payload"]["type"] == "task.created"
    headers, body = receiver.received[-1]
    event = verify_webhook(headers, body, secret)
    assert event.type == "task.created"
    assert receiver.received[0][0]["webhook-id"] == headers["webhook-id"]


async def test_410_disables_subscription_and_redeliver_keeps_event_id(
    app_client: Make, scripted: Callable[[list[int]], Scripted]
) -> None:
    receiver = scripted([410])
    async with app_client(delivery_poll_interval=0.05) as (http, key):
        http.headers["X-API-Key"] = key
        hook = (
            await http.post("/api/webhooks", json={"url": receiver.url, "events": ["task.created"]})
        ).json()
        await http.post("/api/tasks", json={"name": "a", "command": "true"})
        page = await _deliveries(http, hook["id"], lambda d: d and d[0]["status"] == "failed")
        [listed] = (await http.get("/api/webhooks")).json()["webhooks"]
        assert listed["active"] is False
        await http.post("/api/tasks", json={"name": "b", "command": "true"})
        delivery = page["deliveries"][0]
        again = await http.post(f"/api/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
        assert again.status_code == 200
        assert again.json()["status"] == "pending"
        assert again.json()["event_id"] == delivery["event_id"]
        final = (await http.get(f"/api/webhooks/{hook['id']}/deliveries")).json()
    assert final["total"] == 1
    assert len(receiver.received) == 1


async def test_a_slow_receiver_does_not_hold_up_other_deliveries(
    app_client: Make, scripted: Callable[..., Scripted]
) -> None:
    slow, fast = scripted([200], delay=3.0), scripted([200])
    async with app_client(delivery_poll_interval=0.05) as (http, key):
        http.headers["X-API-Key"] = key
        for receiver in (slow, fast):
            body = {"url": receiver.url, "events": ["task.created"], "secret": generate_secret()}
            assert (await http.post("/api/webhooks", json=body)).status_code == 201
        await http.post("/api/tasks", json={"name": "first", "command": "true"})
        for _ in range(100):  # both receivers have the first event; the slow one holds it
            if slow.received and fast.received:
                break
            await asyncio.sleep(0.02)
        posted = time.monotonic()
        await http.post("/api/tasks", json={"name": "second", "command": "true"})
        for _ in range(125):
            if len(fast.received) == 2 or time.monotonic() - posted > 2.5:
                break
            await asyncio.sleep(0.02)
        waited = time.monotonic() - posted
    # Stopping cut the slow send short; nothing of it may outlive the app (a send left
    # unwinding after the engine was disposed once hung the event loop's close for good).
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not leftover, f"tasks outlived the app: {leftover}"
    assert len(fast.received) == 2, "the fast receiver waited for the slow one"
    assert waited < 2.5
