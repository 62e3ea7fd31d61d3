"""``Idempotency-Key`` under concurrency: of many identical POSTs sent at once, one runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from taskqueue import AsyncTaskQueueClient

if TYPE_CHECKING:
    from conftest import ServerProcess

CONCURRENT = 16


async def test_concurrent_posts_with_one_key_create_one_task(
    make_server: Callable[..., ServerProcess], database_url: str, key_for: Callable[..., Any]
) -> None:
    server = make_server(database_url)
    key = await key_for(server)
    limits = httpx.Limits(max_connections=CONCURRENT)
    async with httpx.AsyncClient(
        base_url=server.url, headers={"X-API-Key": key}, limits=limits, timeout=30
    ) as http:
        # Open every connection first, so the POSTs below reach the server together.
        await asyncio.gather(*(http.get("/api/stats") for _ in range(CONCURRENT)))
        body = {"name": "exactly-once", "command": "true"}
        same_key = {"Idempotency-Key": "race"}
        answers = await asyncio.gather(
            *(http.post("/api/tasks", json=body, headers=same_key) for _ in range(CONCURRENT))
        )
        listed = (await http.get("/api/tasks")).json()
        other_body = await http.post("/api/tasks", json={**body, "name": "other"}, headers=same_key)
        repeat = await http.post("/api/tasks", json=body, headers=same_key)

    assert listed["total"] == 1
    created = [a for a in answers if a.status_code == 201]
    in_progress = [a for a in answers if a.status_code == 409]
    assert len(created) + len(in_progress) == CONCURRENT
    first = [a for a in created if "idempotent-replayed" not in a.headers]
    assert len(first) == 1
    assert {a.json()["id"] for a in created} == {listed["tasks"][0]["id"]}
    for answer in in_progress:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["title"] == "Idempotent request in progress"
        assert "still in progress" in answer.json()["detail"]
    assert other_body.status_code == 409
    assert other_body.json()["title"] == "Idempotency key reused"
    assert repeat.status_code == 201
    assert repeat.headers["idempotent-replayed"] == "true"
    assert repeat.json() == first[0].json()


async def test_sdk_calls_sharing_a_key_all_get_the_one_task(
    server: ServerProcess, api_key: str
) -> None:
    async with AsyncTaskQueueClient(base_url=server.url, api_key=api_key) as client:
        tasks = await asyncio.gather(
            *(
                client.create_task(name="sdk-once", command="true", idempotency_key="sdk-race")
                for _ in range(CONCURRENT)
            )
        )
        # The shared server holds other tests' tasks too: count this test's by its key.
        page = await client.list_tasks(limit=500)
    assert len({t.id for t in tasks}) == 1
    assert [t.id for t in page.tasks if t.name == "sdk-once"] == [tasks[0].id]


async def test_a_failed_request_frees_its_key(server: ServerProcess, api_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": api_key}) as http:
        # The shared server holds other tests' tasks: this one gets a project of its own.
        project = (await http.post("/api/projects", json={"name": "frees-key"})).json()
        new_task = {"name": "t", "command": "true", "project_id": project["id"]}
        task = (await http.post("/api/tasks", json=new_task)).json()
        complete = f"/api/tasks/{task['id']}/complete"
        guess = {"worker_id": "w1", "lease_token": "guessed", "result": {"exit_code": 0}}
        once = {"Idempotency-Key": "complete-once"}
        too_early = await http.post(complete, json=guess, headers=once)  # no lease issued yet
        claim = {"worker_id": "w1", "project_id": project["id"]}
        claimed = await http.post("/api/workers/claim", json=claim)
        body = {**guess, "lease_token": claimed.json()["tasks"][0]["lease_token"]}
        retried = await http.post(complete, json=body, headers=once)
        replayed = await http.post(complete, json=body, headers=once)
    assert too_early.status_code == 409
    assert too_early.json()["title"] == "Lease lost"
    assert [t["id"] for t in claimed.json()["tasks"]] == [task["id"]]
    assert (retried.status_code, retried.json()["status"]) == (200, "Completed")
    assert "idempotent-replayed" not in retried.headers
    assert replayed.headers["idempotent-replayed"] == "true"


async def test_an_overlong_key_is_refused_not_cut(server: ServerProcess, api_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": api_key}) as http:
        before = (await http.get("/api/tasks", params={"limit": 1})).json()["total"]
        answer = await http.post(
            "/api/tasks",
            json={"name": "long-key", "command": "true"},
            headers={"Idempotency-Key": "k" * 256},
        )
        after = (await http.get("/api/tasks", params={"limit": 1})).json()["total"]
    assert answer.status_code == 400
    assert answer.json()["title"] == "Invalid Idempotency-Key"
    assert "256 characters" in answer.json()["detail"]
    assert after == before
