"""What a client doing something wrong sees: 401, 404, 409, 413, 422, 429 as problem details."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

Make = Callable[..., Any]


async def test_missing_or_wrong_key_is_401(app_client: Make) -> None:
    async with app_client() as (http, key):
        missing = await http.get("/api/tasks")
        wrong = await http.get("/api/tasks", headers={"X-API-Key": key[:-3] + "xyz"})
        ok_header = await http.get("/api/tasks", headers={"X-API-Key": key})
        ok_bearer = await http.get("/api/tasks", headers={"Authorization": f"Bearer {key}"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["content-type"] == "application/problem+json"
    assert "create-api-key" in missing.json()["detail"]
    assert (ok_header.status_code, ok_bearer.status_code) == (200, 200)


async def test_auth_disabled_allows_anonymous(app_client: Make) -> None:
    async with app_client(auth_disabled=True) as (http, _):
        assert (await http.get("/api/stats")).status_code == 200


async def test_unknown_ids_are_404(app_client: Make) -> None:
    async with app_client() as (http, key):
        http.headers["X-API-Key"] = key
        missing = str(uuid.uuid4())
        for method, path in [
            ("GET", f"/api/tasks/{missing}"),
            ("PATCH", f"/api/tasks/{missing}"),
            ("DELETE", f"/api/tasks/{missing}"),
            ("POST", f"/api/tasks/{missing}/cancel"),
            ("GET", f"/api/projects/{missing}"),
            ("DELETE", f"/api/webhooks/{missing}"),
            ("GET", f"/api/webhooks/{missing}/deliveries"),
        ]:
            body = {} if method in ("PATCH",) else None
            response = await http.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["status"] == 404


async def test_bad_transitions_are_409_with_allowed_list(app_client: Make) -> None:
    async with app_client() as (http, key):
        http.headers["X-API-Key"] = key
        task = (await http.post("/api/tasks", json={"name": "a", "command": "true"})).json()
        advance = await http.post(f"/api/tasks/{task['id']}/advance-phase")
        assert advance.status_code == 409
        complete = await http.post(
            f"/api/tasks/{task['id']}/complete",
            json={"worker_id": "w", "lease_token": "never-issued", "result": {}},
        )
        assert complete.status_code == 409
        await http.post(f"/api/tasks/{task['id']}/cancel")
        again = await http.post(f"/api/tasks/{task['id']}/cancel")
        assert again.status_code == 409
        assert again.json()["allowed_transitions"] == []
        assert "Cancelled" in again.json()["detail"]


async def test_oversized_body_is_413_and_invalid_body_422(app_client: Make) -> None:
    async with app_client(max_body_size=4096) as (http, key):
        http.headers["X-API-Key"] = key
        big = await http.post("/api/tasks", json={"name": "a", "command": "x" * 10_000})
        assert big.status_code == 413
        invalid = await http.post("/api/tasks", json={"name": " ", "command": "true"})
        assert invalid.status_code == 422
        assert any("name" in e["loc"] for e in invalid.json()["errors"])


async def test_rate_limit_is_429_with_retry_after(app_client: Make) -> None:
    async with app_client(rate_limit_per_minute=3) as (http, key):
        http.headers["X-API-Key"] = key
        codes = [(await http.get("/api/stats")).status_code for _ in range(4)]
        limited = await http.get("/api/stats")
    assert codes[:3] == [200, 200, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    assert limited.json()["retry_after"] == int(limited.headers["retry-after"])


async def test_page_size_is_capped(app_client: Make) -> None:
    async with app_client(max_page_size=2) as (http, key):
        http.headers["X-API-Key"] = key
        page = await http.get("/api/tasks", params={"limit": 1000})
    assert page.json()["limit"] == 2


async def test_webhook_to_private_address_refused_unless_allowed(app_client: Make) -> None:
    async with app_client(webhook_allow_private=False) as (http, key):
        http.headers["X-API-Key"] = key
        refused = await http.post(
            "/api/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["task.created"]}
        )
    assert refused.status_code == 422
    assert "TASKQUEUE_WEBHOOK_ALLOW_PRIVATE" in refused.json()["detail"]
