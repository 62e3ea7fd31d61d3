"""SSRF forms and DNS rebinding, webhook secrets, failed-auth rate limiting, ``Allow`` on 405,
idempotency over reformatted JSON, and secret environment values that show nowhere but the
claim response."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from taskqueue.models import WebhookEventType
from taskqueue.webhooks import generate_secret
from taskqueue_server.db.engine import session_factory
from taskqueue_server.db.tenancy import Role, TenantScope
from taskqueue_server.db.webhooks import WebhookStore
from taskqueue_server.delivery import DeliverySender
from taskqueue_server.errors import UnsafeWebhookURLError
from taskqueue_server.settings import ServerSettings
from taskqueue_server.ssrf import check_webhook_url, resolve_webhook_target

if TYPE_CHECKING:
    from conftest import NewKey, Serve, ServerProcess

Make = Callable[..., Any]


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://[64:ff9b::a9fe:a9fe]/hook", "NAT64"),
        ("http://[64:ff9b:1::a9fe:a9fe]/hook", "NAT64"),
        ("http://[2002:7f00:1::]/hook", "6to4"),
        ("http://[::127.0.0.1]/hook", "IPv4-compatible"),
        ("http://[::ffff:169.254.169.254]/hook", "IPv4-mapped"),
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "Teredo"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://[ff02::1]/hook", "multicast"),
        ("http://240.0.0.1/hook", "reserved"),
        ("http://100.64.0.1/hook", "shared address space"),
        ("http://198.18.0.1/hook", "benchmarking"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://[fd00::1]/hook", "unique local"),
        ("http://[::1]/hook", "loopback"),
    ],
)
async def test_ssrf_guard_refuses_translated_and_special_addresses(url: str, named: str) -> None:
    with pytest.raises(UnsafeWebhookURLError) as refused:
        await check_webhook_url(url, allow_private=False)
    assert named in refused.value.message
    assert "TASKQUEUE_WEBHOOK_ALLOW_PRIVATE" in refused.value.message


async def test_a_public_address_is_pinned_with_the_original_host() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        assert (host, port) == ("hooks.example.com", 8443)
        return ["2606:4700::1111", "93.184.216.34"]

    target = await resolve_webhook_target(
        "https://hooks.example.com:8443/in?x=1", allow_private=False, resolve=resolve
    )
    assert target.url == "https://93.184.216.34:8443/in?x=1"
    assert target.host_header == "hooks.example.com:8443"
    assert target.server_name == "hooks.example.com"

    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.5"]

    with pytest.raises(UnsafeWebhookURLError, match=r"10\.0\.0\.5"):
        await resolve_webhook_target("https://h.example/", allow_private=False, resolve=mixed)


class _Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                recorder.requests.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    made = _Recorder()
    yield made
    made.httpd.shutdown()
    made.httpd.server_close()


async def _one_delivery(
    engine: AsyncEngine, url: str, resolve: Callable[[str, int], Any], allow_private: bool
) -> tuple[WebhookStore, DeliverySender, Any]:
    store = WebhookStore(session_factory(engine), engine.dialect.name)
    hook = await store.scoped(TenantScope("t")).create(url, generate_secret(), [], None)
    await store.enqueue("msg_1", "task.created", '{"type": "task.created"}', tenant="t")
    settings = ServerSettings.load(
        database_url="sqlite:///unused.db", webhook_allow_private=allow_private
    )
    sender = DeliverySender(store, settings, resolve=resolve)
    return store, sender, hook


async def test_delivery_connects_to_the_address_it_checked(
    engine: AsyncEngine, recorder: _Recorder
) -> None:
    # The name resolves once; the POST goes to that address with the original Host header.
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    url = f"http://hooks.invalid:{recorder.port}/in"
    store, sender, hook = await _one_delivery(engine, url, resolve, allow_private=True)
    try:
        assert await sender.send_due() == 1
    finally:
        await sender.aclose()
    assert calls == ["hooks.invalid"]
    [headers] = recorder.requests
    assert headers["host"] == f"hooks.invalid:{recorder.port}"
    page, _ = await store.scoped(TenantScope("t")).deliveries(hook.id, 10, 0)
    assert page[0]["status"] == "succeeded"


async def test_rebinding_to_a_private_address_is_refused_at_delivery(
    engine: AsyncEngine, recorder: _Recorder
) -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def resolve(host: str, port: int) -> list[str]:
        return next(answers)

    url = f"http://rebind.invalid:{recorder.port}/in"
    await check_webhook_url(url, allow_private=False, resolve=resolve)  # accepted: public
    store, sender, hook = await _one_delivery(engine, url, resolve, allow_private=False)
    try:
        assert await sender.send_due() == 1
    finally:
        await sender.aclose()
    assert recorder.requests == []
    page, _ = await store.scoped(TenantScope("t")).deliveries(hook.id, 10, 0)
    assert page[0]["status"] == "failed"
    assert "127.0.0.1" in page[0]["error"]


async def test_webhook_secrets_are_generated_or_long_and_random(
    serve: Serve, new_key: NewKey, sqlite_url: str
) -> None:
    async with serve(sqlite_url) as http:
        admin = await new_key(http, "t", Role.ADMIN)
        base = {"url": "http://127.0.0.1:9/h", "events": ["task.created"]}
        generated = await http.post("/api/webhooks", json=base, headers=admin)
        assert generated.status_code == 201
        assert len(generated.json()["secret"]) >= len("whsec_") + 32
        for weak, why in [
            ("whsec_" + "QUFB" * 4, "24 random bytes"),  # 12 bytes: the model refuses it
            ("whsec_" + "QUFB" * 8 + "A", "24 random bytes"),  # not base64: could never sign
        ]:
            answer = await http.post("/api/webhooks", json={**base, "secret": weak}, headers=admin)
            assert answer.status_code == 422, answer.text
            assert why in answer.text
            assert weak not in answer.text
        strong = generate_secret()
        ok = await http.post("/api/webhooks", json={**base, "secret": strong}, headers=admin)
        assert ok.status_code == 201
        assert (await http.get("/api/webhooks", headers=admin)).json()["webhooks"].__len__() == 2


async def test_failed_authentications_are_rate_limited_per_address(
    serve: Serve, new_key: NewKey, sqlite_url: str
) -> None:
    async with serve(sqlite_url, auth_failures_per_minute=3) as http:
        good = await new_key(http, "t", Role.READER)
        assert (await http.get("/api/stats", headers=good)).status_code == 200
        wrong = {"X-API-Key": good["X-API-Key"][:-4] + "abcd"}
        codes = [(await http.get("/api/stats", headers=wrong)).status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        limited = await http.get("/api/stats", headers=wrong)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 61
        assert "failed authentications" in limited.json()["detail"]
        # Until the window ends, the address gets 429 whatever it sends.
        assert (await http.get("/api/stats", headers=good)).status_code == 429
        assert (await http.get("/api/stats")).status_code == 429


async def test_405_lists_every_allowed_method(
    serve: Serve, new_key: NewKey, sqlite_url: str
) -> None:
    async with serve(sqlite_url) as http:
        key = await new_key(http, "t", Role.ADMIN)
        put = await http.put("/api/tasks", headers=key)
        assert put.status_code == 405
        assert {m.strip() for m in put.headers["Allow"].split(",")} >= {"GET", "POST"}
        task_id = "00000000-0000-0000-0000-000000000001"
        on_task = await http.put(f"/api/tasks/{task_id}", headers=key)
        assert on_task.status_code == 405
        allowed = {m.strip() for m in on_task.headers["Allow"].split(",")}
        assert allowed >= {"GET", "PATCH", "DELETE"}
        assert "PUT" not in allowed
        assert "PATCH" in on_task.json()["detail"]


async def test_idempotency_compares_parsed_json(
    serve: Serve, new_key: NewKey, sqlite_url: str
) -> None:
    async with serve(sqlite_url) as http:
        key = await new_key(http, "t", Role.ADMIN)
        headers = {**key, "Idempotency-Key": "k1", "content-type": "application/json"}
        first = await http.post(
            "/api/tasks", content='{"name":"a","command":"true"}', headers=headers
        )
        again = await http.post(
            "/api/tasks",
            content='{\n  "command" : "true",\n  "name" : "a"\n}\n',
            headers=headers,
        )
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        other = await http.post(
            "/api/tasks", content='{"name":"b","command":"true"}', headers=headers
        )
        assert other.status_code == 409
        assert (await http.get("/api/tasks", headers=key)).json()["total"] == 1


def _read_logs(server_log: Path, tmp_path: Path) -> str:
    return server_log.read_text() + "".join(p.read_text() for p in tmp_path.glob("worker*.log"))


async def test_secret_environment_reaches_only_the_worker(
    make_server: Callable[..., ServerProcess],
    key_for: Callable[[ServerProcess], Any],
    workers: Callable[..., Any],
    sqlite_url: str,
    tmp_path: Path,
) -> None:
    secret_value = "s3cr3t-" + generate_secret()[6:]
    server = make_server(sqlite_url, TASKQUEUE_LOG_LEVEL="DEBUG")
    key = await key_for(server)
    hook_hits: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hook_hits.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    out = tmp_path / "seen"
    seen: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": key}) as http:
            hook = await http.post(
                "/api/webhooks",
                json={
                    "url": f"http://127.0.0.1:{httpd.server_address[1]}/h",
                    "events": [e.value for e in WebhookEventType],
                },
            )
            assert hook.status_code == 201, hook.text
            created = await http.post(
                "/api/tasks",
                json={
                    "name": "uses a token",
                    "command": f'printf %s "$API_TOKEN" > {out}',
                    "environment": {"PLAIN": "visible"},
                    "secret_environment": {"API_TOKEN": secret_value},
                },
            )
            assert created.status_code == 201
            task_id = created.json()["id"]
            seen.append(created.text)
            worker = workers(server, key)
            for _ in range(300):
                got = (await http.get(f"/api/tasks/{task_id}")).json()
                if got["status"] == "Completed":
                    break
                await asyncio.sleep(0.1)
            assert got["status"] == "Completed", got
            worker.terminate()
            worker.wait(timeout=30)
            for path in ("/api/tasks", f"/api/tasks/{task_id}", "/api/stats"):
                seen.append((await http.get(path)).text)
            patched = await http.patch(f"/api/tasks/{task_id}", json={"description": "x"})
            seen.append(patched.text)
            for _ in range(100):
                if len(hook_hits) >= 3:
                    break
                await asyncio.sleep(0.1)
            deliveries = await http.get(f"/api/webhooks/{hook.json()['id']}/deliveries")
            seen.append(deliveries.text)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert (
        await asyncio.to_thread(out.read_text) == secret_value
    )  # the worker got the value and used it
    assert got["secret_environment"] == {"API_TOKEN": "[redacted]"}
    assert got["environment"] == {"PLAIN": "visible"}
    assert len(hook_hits) >= 3  # created, updated (leased), completed...
    server.stop()
    logs = await asyncio.to_thread(_read_logs, server.log, tmp_path)
    assert "visible" in json.dumps(seen)
    for text in [*seen, *(h.decode() for h in hook_hits), logs]:
        assert secret_value not in text
