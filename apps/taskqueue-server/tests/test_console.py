"""The task dashboard over HTTP (httpx against the app): pages through the scoped stores,
role and tenant checks on every action, CSRF, keyset pages, filters, the failed sign-in
limit, and the live feed's tenant isolation (memory and Redis)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from necrostack import Event
from taskqueue_server.app import create_server_app
from taskqueue_server.db.tenancy import Role, TenantScope
from taskqueue_server.settings import ServerSettings
from taskqueue_server.ui.feed import memory_feed, redis_feed
from taskqueue_server.ui.stream import _visible, sse_message


@dataclass
class Site:
    app: FastAPI
    transport: httpx.ASGITransport
    admin: str
    reader: str
    other: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url="http://tq")


async def _sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await client.get("/ui/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return await client.post("/ui/sign-in", data={"csrf_token": token.group(1), "api_key": key})


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@asynccontextmanager
async def open_site(tmp_path: Path) -> AsyncIterator[Site]:
    """The app with its lifespan running (in the test's own task: the MCP session manager's
    cancel scope must be left in the task that entered it), and three keys."""
    settings = ServerSettings.load(
        database_url=f"sqlite:///{tmp_path / 'tq.db'}",
        session_secret="s" * 40,
        auth_failures_per_minute=3,
        webhook_allow_private=True,
    )
    app = create_server_app(settings)
    async with app.router.lifespan_context(app):
        keys = app.state.runtime.api_keys
        admin = await keys.create("ops", tenant="acme", role=Role.ADMIN)
        reader = await keys.create("viewer", tenant="acme", role=Role.READER)
        other = await keys.create("rival", tenant="globex", role=Role.ADMIN)
        yield Site(app, httpx.ASGITransport(app=app), admin.key, reader.key, other.key)


async def _task(site: Site, name: str, **extra: Any) -> dict[str, Any]:
    async with site.client() as api:
        answer = await api.post(
            "/api/tasks",
            json={"name": name, "command": f"echo {name}", **extra},
            headers={"Authorization": f"Bearer {site.admin}"},
        )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def test_every_page_renders_for_an_admin_and_hides_secrets(tmp_path: Path) -> None:
    async with open_site(tmp_path) as site:
        task = await _task(site, "build", secret_environment={"TOKEN": "s3cr3t-value"})
        async with site.client() as web:
            assert (await _sign_in(web, site.admin)).status_code == 303
            for path in (
                "/ui/",
                "/ui/tasks",
                f"/ui/tasks/{task['id']}",
                "/ui/workers",
                "/ui/webhooks",
            ):
                page = await web.get(path)
                assert page.status_code == 200, path
                assert "s3cr3t-value" not in page.text
                assert site.admin not in page.text
            detail = await web.get(f"/ui/tasks/{task['id']}")
            assert "[redacted]" in detail.text
            assert "Yes, cancel task" in detail.text


async def test_the_overview_counts_only_the_tenants_tasks(tmp_path: Path) -> None:
    async with open_site(tmp_path) as site:
        await _task(site, "mine")
        async with site.client() as web:
            await _sign_in(web, site.other)
            page = await web.get("/ui/overview/live")
            assert re.search(r'id="stat-depth">0<', page.text)
            await _sign_in(
                httpx.AsyncClient(transport=site.transport, base_url="http://tq"), site.admin
            )
        async with site.client() as web:
            await _sign_in(web, site.admin)
            page = await web.get("/ui/overview/live")
            assert re.search(r'id="stat-depth">1<', page.text)


async def test_a_reader_sees_no_actions_and_its_posts_change_nothing(tmp_path: Path) -> None:
    async with open_site(tmp_path) as site:
        task = await _task(site, "read-only")
        async with site.client() as web:
            await _sign_in(web, site.reader)
            page = await web.get(f"/ui/tasks/{task['id']}")
            assert page.status_code == 200
            assert "/cancel" not in page.text
            assert "/delete" not in page.text
            listing = await web.get("/ui/tasks")
            assert 'type="checkbox"' not in listing.text
            assert "Bulk actions" not in listing.text
            token = _csrf(page.text)
            for action in ("cancel", "delete"):
                refused = await web.post(
                    f"/ui/tasks/{task['id']}/{action}", data={"csrf_token": token}
                )
                assert refused.status_code == 403
            bulk = await web.post(
                "/ui/tasks/bulk",
                data={"csrf_token": token, "action": "cancel", "task_id": task["id"]},
            )
            assert bulk.status_code == 403
            assert (await web.get("/ui/webhooks")).status_code == 403
            detail = await web.get(f"/ui/tasks/{task['id']}")
            assert 'id="task-status">Pending<' in detail.text


async def test_posts_without_csrf_or_across_tenants_are_refused(tmp_path: Path) -> None:
    async with open_site(tmp_path) as site:
        task = await _task(site, "guarded")
        async with site.client() as web:
            await _sign_in(web, site.admin)
            assert (await web.post(f"/ui/tasks/{task['id']}/cancel", data={})).status_code == 403
            wrong = await web.post(f"/ui/tasks/{task['id']}/cancel", data={"csrf_token": "x" * 43})
            assert wrong.status_code == 403
        async with site.client() as web:
            await _sign_in(web, site.other)
            token = _csrf((await web.get("/ui/tasks")).text)
            assert (await web.get(f"/ui/tasks/{task['id']}")).status_code == 404
            for action in ("cancel", "delete"):
                answer = await web.post(
                    f"/ui/tasks/{task['id']}/{action}", data={"csrf_token": token}
                )
                assert answer.status_code == 404
            bulk = await web.post(
                "/ui/tasks/bulk",
                data={"csrf_token": token, "action": "cancel", "task_id": task["id"]},
            )
            assert bulk.status_code == 303
            assert "ok=0&skipped=1" in bulk.headers["location"]
            assert "guarded" not in (await web.get("/ui/tasks")).text
        async with site.client() as api:
            got = await api.get(f"/api/tasks/{task['id']}", headers={"X-API-Key": site.admin})
            assert got.json()["status"] == "Pending"


async def test_cancel_and_delete_from_the_task_page(tmp_path: Path) -> None:
    async with open_site(tmp_path) as site:
        upstream = await _task(site, "first")
        task = await _task(site, "second", dependencies=[upstream["id"]])
        async with site.client() as web:
            await _sign_in(web, site.admin)
            page = await web.get(f"/ui/tasks/{upstream['id']}")
            assert f"/ui/tasks/{task['id']}" in page.text  # downstream link
            page = await web.get(f"/ui/tasks/{task['id']}")
            assert f"/ui/tasks/{upstream['id']}" in page.text  # upstream link
            token = _csrf(page.text)
            done = await web.post(f"/ui/tasks/{task['id']}/cancel", data={"csrf_token": token})
            assert done.status_code == 303
            assert done.headers["location"].endswith("?done=cancelled")
            again = await web.post(f"/ui/tasks/{task['id']}/cancel", data={"csrf_token": token})
            assert again.status_code == 409
            gone = await web.post(f"/ui/tasks/{task['id']}/delete", data={"csrf_token": token})
            assert gone.status_code == 303
            assert (await web.get(f"/ui/tasks/{task['id']}")).status_code == 404


async def test_filters_and_keyset_pages(tmp_path: Path) -> None:
    async with open_site(tmp_path) as site:
        async with site.client() as api:
            batch = [{"name": f"job-{i:02d}", "command": "true"} for i in range(55)]
            batch.append({"name": "special", "command": "make 100%_done", "priority": "High"})
            answer = await api.post(
                "/api/tasks/batch", json={"tasks": batch}, headers={"X-API-Key": site.admin}
            )
            assert answer.status_code == 200
        async with site.client() as web:
            await _sign_in(web, site.admin)
            first = await web.get("/ui/tasks")
            assert "56 tasks" in first.text
            assert first.text.count('name="task_id"') == 50
            cursor = re.search(r'rel="next" href="/ui/tasks\?cursor=([^"]+)"', first.text)
            assert cursor is not None
            token = cursor.group(1)
            second = await web.get(f"/ui/tasks?cursor={token}")
            assert second.text.count('name="task_id"') == 6
            # a batch shares one created_at, so the id orders it: the pages split it exactly
            names = re.compile(r'<a href="/ui/tasks/[0-9a-f-]{36}">([^<]+)</a>')
            on_first, on_second = set(names.findall(first.text)), set(names.findall(second.text))
            assert len(on_first) == 50
            assert len(on_second) == 6
            assert not on_first & on_second
            assert 'rel="next"' not in second.text
            texts = await web.get("/ui/tasks", params={"q": "100%_"})
            assert "special" in texts.text
            assert "job-01" not in texts.text
            high = await web.get("/ui/tasks", params={"priority": "High"})
            assert "1 task " in high.text or "1 task<" in high.text
            assert (await web.get("/ui/tasks", params={"status": "Nope"})).status_code == 422
            assert (await web.get("/ui/tasks", params={"cursor": "garbage"})).status_code == 400
            other = await web.get(f"/ui/tasks?status=Pending&cursor={token}")
            assert other.status_code == 400  # a cursor of other filters


async def test_the_list_counts_up_to_its_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page 1 counts at most COUNT_CAP + 1 rows, so a huge list shows "N+ tasks"."""
    from taskqueue_server.ui import listing

    monkeypatch.setattr(listing, "COUNT_CAP", 50)
    async with open_site(tmp_path) as site:
        async with site.client() as api:
            batch = [{"name": f"job-{i:02d}", "command": "true"} for i in range(56)]
            answer = await api.post(
                "/api/tasks/batch", json={"tasks": batch}, headers={"X-API-Key": site.admin}
            )
            assert answer.status_code == 200
            listed = await api.get("/api/tasks", headers={"X-API-Key": site.admin})
            assert listed.json()["total"] == 56  # the API still counts exactly
        async with site.client() as web:
            await _sign_in(web, site.admin)
            first = await web.get("/ui/tasks")
            assert "50+ tasks" in first.text
            exact = await web.get("/ui/tasks", params={"q": "job-0"})
            assert "10 tasks matching" in exact.text


async def test_retry_from_the_task_page_and_in_bulk(tmp_path: Path) -> None:
    async with open_site(tmp_path) as site:
        tasks = [await _task(site, f"again-{i}") for i in range(3)]
        async with site.client() as web:
            await _sign_in(web, site.admin)
            page = await web.get(f"/ui/tasks/{tasks[0]['id']}")
            assert "Yes, retry task" not in page.text  # Pending: nothing to retry
            token = _csrf(page.text)
            early = await web.post(f"/ui/tasks/{tasks[0]['id']}/retry", data={"csrf_token": token})
            assert early.status_code == 409
            for task in tasks:
                await web.post(f"/ui/tasks/{task['id']}/cancel", data={"csrf_token": token})
            page = await web.get(f"/ui/tasks/{tasks[0]['id']}")
            assert "Yes, retry task" in page.text
            done = await web.post(f"/ui/tasks/{tasks[0]['id']}/retry", data={"csrf_token": token})
            assert done.headers["location"].endswith("?done=retried")
            bulk = await web.post(
                "/ui/tasks/bulk",
                data={
                    "csrf_token": token,
                    "action": "retry",
                    "task_id": [t["id"] for t in tasks],
                },
            )
            assert bulk.headers["location"].endswith("bulk=retry&ok=2&skipped=1")
            for task in tasks:
                detail = await web.get(f"/ui/tasks/{task['id']}")
                assert 'id="task-status">Pending<' in detail.text
        async with site.client() as web:
            await _sign_in(web, site.reader)
            token = _csrf((await web.get("/ui/tasks")).text)
            answer = await web.post(f"/ui/tasks/{tasks[0]['id']}/retry", data={"csrf_token": token})
            assert answer.status_code == 403


async def test_redelivery_stays_within_the_tenant(tmp_path: Path) -> None:
    async with open_site(tmp_path) as site:
        async with site.client() as api:
            hook = await api.post(
                "/api/webhooks",
                json={"url": "http://127.0.0.1:9/hook", "events": ["task.created"]},
                headers={"X-API-Key": site.admin},
            )
            assert hook.status_code == 201, hook.text
        hook_id = hook.json()["id"]
        path = f"/ui/webhooks/{hook_id}/deliveries/{uuid.uuid4()}/redeliver"
        async with site.client() as web:
            await _sign_in(web, site.other)
            page = await web.get("/ui/webhooks")
            assert page.status_code == 200
            assert "127.0.0.1:9/hook" not in page.text
            answer = await web.post(path, data={"csrf_token": _csrf(page.text)})
            assert answer.status_code == 404
            assert "webhook" in answer.text
        async with site.client() as web:
            await _sign_in(web, site.admin)
            page = await web.get("/ui/webhooks")
            assert "127.0.0.1:9/hook" in page.text
            answer = await web.post(path, data={"csrf_token": _csrf(page.text)})
            assert answer.status_code == 404
            assert "delivery" in answer.text


async def test_bulk_cancel_counts_what_it_did(tmp_path: Path) -> None:
    async with open_site(tmp_path) as site:
        tasks = [await _task(site, f"bulk-{i}") for i in range(3)]
        async with site.client() as web:
            await _sign_in(web, site.admin)
            token = _csrf((await web.get("/ui/tasks")).text)
            answer = await web.post(
                "/ui/tasks/bulk",
                data={
                    "csrf_token": token,
                    "action": "cancel",
                    "task_id": [t["id"] for t in tasks[:2]] + ["not-a-uuid"],
                    "back": "q=bulk",
                },
            )
            assert answer.status_code == 303
            assert answer.headers["location"].endswith(
                "/ui/tasks?q=bulk&bulk=cancel&ok=2&skipped=1"
            )
            page = await web.get(answer.headers["location"])
            assert "2 task(s) cancelled; 1 skipped" in page.text


async def test_failed_sign_ins_are_limited_per_address(tmp_path: Path) -> None:
    async with open_site(tmp_path) as site, site.client() as web:
        for _ in range(3):
            assert (await _sign_in(web, "tq_wrong_" + "x" * 40)).status_code == 401
        blocked = await _sign_in(web, site.admin)
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
        assert "Too many failed sign-ins" in blocked.text
        # the API's failed-authentication limit is the same budget
        api = await web.get("/api/tasks", headers={"X-API-Key": site.admin})
        assert api.status_code == 429


def _event(event_type: str, tenant: str, project: uuid.UUID | None = None) -> Event:
    data = {
        "id": str(uuid.uuid4()),
        "name": "t",
        "status": "Pending",
        "project_id": str(project) if project else None,
    }
    return Event(event_type=event_type, payload={"data": data, "tenant": tenant})


def test_the_stream_shows_only_what_the_scope_may_see() -> None:
    allowed, hidden = uuid.uuid4(), uuid.uuid4()
    everything = TenantScope("acme")
    some = TenantScope("acme", Role.READER, frozenset({allowed}))
    assert _visible(everything, _event("task.created", "acme")) is not None
    assert _visible(everything, _event("task.created", "globex")) is None
    assert _visible(some, _event("task.created", "acme", allowed)) is not None
    assert _visible(some, _event("task.created", "acme", hidden)) is None
    assert _visible(some, _event("task.created", "acme")) is None
    assert sse_message("activity", "<li>\n</li>") == "event: activity\ndata: <li>\ndata: </li>\n\n"


async def _first(feed: Any, tenant: str) -> list[Event | None]:
    got: list[Event | None] = []
    async for item in feed.subscribe(tenant, 0.3):
        got.append(item)
        if len(got) == 2:
            break
    return got


async def test_the_memory_feed_keeps_tenants_apart() -> None:
    feed = memory_feed()
    reader = asyncio.create_task(_first(feed, "acme"))
    await asyncio.sleep(0.05)
    await feed.publish(_event("task.created", "globex"), "globex")
    mine = _event("task.created", "acme")
    await feed.publish(mine, "acme")
    got = await reader
    assert got[0] is not None
    assert got[0].id == mine.id
    assert got[1] is None  # nothing else arrived: the other tenant's event never did


async def test_the_redis_feed_reaches_readers_of_the_same_tenant_only(redis_url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    prefix = f"test-console-{uuid.uuid4().hex[:8]}:"
    feed = redis_feed(client, prefix)
    try:
        reader = asyncio.create_task(_first(feed, "acme"))
        await asyncio.sleep(0.2)
        await feed.publish(_event("task.created", "globex"), "globex")
        mine = _event("task.updated", "acme")
        await feed.publish(mine, "acme")
        got = await reader
        assert got[0] is not None
        assert got[0].id == mine.id
        assert got[0].payload["tenant"] == "acme"
        assert got[1] is None
    finally:
        await client.delete(f"{prefix}ui:acme", f"{prefix}ui:globex")
        await client.aclose()
