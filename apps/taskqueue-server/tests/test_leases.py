"""The lease invariant on SQLite and PostgreSQL: at no instant do two workers hold a valid
lease on one task; stale tokens get 409; reports are idempotent by token."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from taskqueue.models import LEASE_LOST_TYPE, ClaimResponse
from taskqueue_server.db.schema import TaskRow, utcnow
from taskqueue_server.db.tasks import TaskStore
from taskqueue_server.errors import LeaseError

MakeApp = Callable[..., contextlib.AbstractAsyncContextManager[tuple[httpx.AsyncClient, str]]]
ROUNDS = 50
CLAIMERS = 8


async def _one(tasks: TaskStore, **fields: object) -> uuid.UUID:
    data = {"name": "t", "command": "true", **fields}
    return uuid.UUID((await tasks.create_many([data]))[0].to_wire()["id"])


async def _expire_now(engine: AsyncEngine, task_id: uuid.UUID) -> None:
    """Let the lease run out: move its expiry a second into the past (no sleeping)."""
    async with engine.begin() as conn:
        await conn.execute(
            update(TaskRow)
            .where(TaskRow.id == task_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


async def test_an_expired_lease_goes_to_exactly_one_of_eight_concurrent_claimers(
    tasks: TaskStore, engine: AsyncEngine
) -> None:
    # The race the old expiry lost on PostgreSQL: every claim first re-expired the lease
    # another claim had just granted, so all eight got the task (attempts 9).
    for round_no in range(ROUNDS):
        task_id = await _one(tasks)
        [first], _ = await tasks.claim("first", 1, 1)
        await _expire_now(engine, task_id)
        results = await asyncio.gather(
            *(tasks.claim(f"claimer-{n}", 1, 1) for n in range(CLAIMERS))
        )
        holders = [leased for leased, _ in results if leased]
        assert len(holders) == 1, f"round {round_no}: {len(holders)} holders"
        [[winner]] = holders
        stored = await tasks.get(task_id)
        assert (stored.row.status, stored.row.attempts) == ("Running", 2)
        assert stored.row.lease_owner == winner.row.lease_owner
        assert winner.row.lease_token != first.row.lease_token
        await tasks.complete(task_id, "x", str(winner.row.lease_token), {"exit_code": 0})


async def test_stale_token_is_refused_everywhere_and_reports_replay(
    tasks: TaskStore, engine: AsyncEngine
) -> None:
    task_id = await _one(tasks, retry_attempts=3, retry_delay=0)
    [old], _ = await tasks.claim("old", 1, 30)
    stale = str(old.row.lease_token)
    await _expire_now(engine, task_id)
    [new], _ = await tasks.claim("new", 1, 30)
    current = str(new.row.lease_token)
    with pytest.raises(LeaseError, match="lease lost"):
        await tasks.heartbeat(task_id, "old", stale, 30)
    with pytest.raises(LeaseError):
        await tasks.complete(task_id, "old", stale, {"exit_code": 0})
    with pytest.raises(LeaseError):
        await tasks.fail(task_id, "old", stale, {"exit_code": 1})
    assert (await tasks.get(task_id)).row.status == "Running"
    first, changes = await tasks.complete(task_id, "new", current, {"exit_code": 0})
    again, replayed = await tasks.complete(task_id, "new", current, {"exit_code": 0})
    assert (first.row.status, len(changes)) == ("Completed", 1)
    assert (again.to_wire(), replayed) == (first.to_wire(), [])
    with pytest.raises(LeaseError):  # a completed lease is not failed afterwards
        await tasks.fail(task_id, "new", current, {"exit_code": 1})


async def test_fail_schedules_the_retry_on_the_server(tasks: TaskStore) -> None:
    task_id = await _one(tasks, retry_attempts=1, retry_delay=60)
    [leased], _ = await tasks.claim("w", 1, 30)
    token = str(leased.row.lease_token)
    before = utcnow()
    task, [change] = await tasks.fail(task_id, "w", token, {"exit_code": 1})
    wire = task.to_wire()
    assert (wire["status"], wire["attempts"], change.event_type) == ("Pending", 1, "task.updated")
    assert wire["run_after"] is not None
    assert task.row.available_at >= before + timedelta(seconds=59)
    assert (await tasks.claim("w", 1, 30))[0] == []  # held back until run_after
    replay, none = await tasks.fail(task_id, "w", token, {"exit_code": 1})
    assert (replay.row.attempts, none) == (1, [])  # the replay counted nothing


async def test_requeue_hands_back_without_counting_an_attempt(tasks: TaskStore) -> None:
    task_id = await _one(tasks, retry_attempts=0)
    [leased], _ = await tasks.claim("w", 1, 30)
    task, _ = await tasks.fail(
        task_id, "w", str(leased.row.lease_token), {"error": "stopping"}, requeue=True
    )
    assert (task.row.status, task.row.attempts) == ("Pending", 0)
    [again], _ = await tasks.claim("w2", 1, 30)
    assert (again.row.id, again.row.attempts) == (task_id, 1)


async def test_expiry_sweep_never_takes_back_a_renewed_lease(
    tasks: TaskStore, engine: AsyncEngine
) -> None:
    # The sweep and a claim race for the same expired lease: whichever wins, the task ends up
    # held by at most one lease and the claim that got it can report.
    for _ in range(20):
        task_id = await _one(tasks)
        await tasks.claim("first", 1, 1)
        await _expire_now(engine, task_id)
        (leased, _), swept = await asyncio.gather(
            tasks.claim("second", 1, 30), tasks.expire_leases()
        )
        stored = await tasks.get(task_id)
        if leased:
            assert stored.row.status == "Running"
            assert stored.row.lease_token == leased[0].row.lease_token
            await tasks.complete(task_id, "second", str(leased[0].row.lease_token), {})
        else:
            assert [c.task.row.id for c in swept] == [task_id]
            assert stored.row.status == "Pending"
            assert stored.row.lease_token is None
            await tasks.delete(task_id)


@contextlib.asynccontextmanager
async def _http(
    app_client: MakeApp,
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client() as (http, key):
        http.headers["X-API-Key"] = key
        yield http


async def test_stale_token_gets_a_lease_lost_problem_over_http(
    app_client: MakeApp,
) -> None:
    async with _http(app_client) as http:
        created = (await http.post("/api/tasks", json={"name": "a", "command": "true"})).json()
        claim = await http.post("/api/workers/claim", json={"worker_id": "w", "lease_seconds": 30})
        [task] = ClaimResponse.model_validate(claim.json()).tasks
        assert task.id == uuid.UUID(created["id"])
        assert "lease_token" not in (await http.get(f"/api/tasks/{task.id}")).json()
        base = {"worker_id": "w", "lease_token": "stale"}
        for path, body in [
            ("heartbeat", {**base, "lease_seconds": 30}),
            ("complete", {**base, "result": {"exit_code": 0}}),
            ("fail", {**base, "result": {"exit_code": 1}}),
        ]:
            answer = await http.post(f"/api/tasks/{task.id}/{path}", json=body)
            assert answer.status_code == 409, path
            problem = answer.json()
            assert problem["type"] == LEASE_LOST_TYPE
            assert problem["title"] == "Lease lost"
            assert "lease lost" in problem["detail"]
        good = {"worker_id": "w", "lease_token": task.lease_token, "result": {"exit_code": 0}}
        first = await http.post(f"/api/tasks/{task.id}/complete", json=good)
        replay = await http.post(f"/api/tasks/{task.id}/complete", json=good)
        assert (first.status_code, replay.status_code) == (200, 200)
        assert replay.json() == first.json()
        assert first.json()["status"] == "Completed"
        missing = await http.post(
            f"/api/tasks/{task.id}/complete", json={"worker_id": "w", "result": {}}
        )
        assert missing.status_code == 422  # the token is required
