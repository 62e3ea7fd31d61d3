"""Task storage on SQLite and PostgreSQL: life cycle, leases, retries, dependencies."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from taskqueue_server.db.tasks import TaskStore
from taskqueue_server.errors import InvalidTransitionError, LeaseError, NotFoundError


async def _one(tasks: TaskStore, **fields: object) -> uuid.UUID:
    data = {"name": "t", "command": "echo hi", **fields}
    return uuid.UUID((await tasks.create_many([data]))[0].to_wire()["id"])


async def _token(tasks: TaskStore, worker: str = "w", lease: float = 30) -> str:
    """Claim one task for ``worker`` and return its lease token."""
    [leased], _ = await tasks.claim(worker, 1, lease)
    assert leased.row.lease_token
    return leased.row.lease_token


async def test_claim_orders_by_priority_then_age(tasks: TaskStore) -> None:
    low = await _one(tasks, priority="Low")
    first_normal = await _one(tasks)
    critical = await _one(tasks, priority="Critical")
    second_normal = await _one(tasks)
    leased, _ = await tasks.claim("w1", 10, 30)
    assert [t.row.id for t in leased] == [critical, first_normal, second_normal, low]
    assert {t.row.status for t in leased} == {"Running"}
    again, _ = await tasks.claim("w2", 10, 30)
    assert again == []


async def test_single_task_read_matches_the_full_load(tasks: TaskStore) -> None:
    # GET /api/tasks/{id} reads through one aggregated statement; it must show exactly what
    # the ORM load shows: dependencies, lease fields, JSON columns, timestamps.
    first = await _one(tasks)
    second = await _one(tasks)
    child = await _one(
        tasks,
        dependencies=[second, first],
        metadata={"k": [1, {"z": None}]},
        environment={"A": "1"},
        task_type="Workflow",
    )
    lone = await _one(tasks)
    await tasks.claim("w", 1, 30)  # `first` is now Running, leased to w
    for task_id in (first, second, child, lone):
        assert await tasks.get_wire(task_id) == (await tasks.get(task_id)).to_wire()
    running = await tasks.get_wire(first)
    assert (running["status"], running["worker_id"]) == ("Running", "w")
    assert (await tasks.get_wire(child))["dependencies"] == sorted([str(first), str(second)])
    assert (await tasks.get_wire(lone))["dependencies"] == []
    with pytest.raises(NotFoundError):
        await tasks.get_wire(uuid.uuid4())


async def test_single_task_reads_beyond_the_pool_size_return_their_connections(
    tasks: TaskStore, caplog: pytest.LogCaptureFixture
) -> None:
    # More concurrent reads than pooled connections: the overflow ones are closed on return,
    # which must happen cleanly (a failed close would leak the connection and log an error).
    task_id = await _one(tasks)
    found = await asyncio.gather(*(tasks.get_wire(task_id) for _ in range(40)))
    assert {w["id"] for w in found} == {str(task_id)}
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


async def test_dependency_holds_task_back_until_completed(tasks: TaskStore) -> None:
    parent = await _one(tasks)
    child = await _one(tasks, dependencies=[parent])
    leased, _ = await tasks.claim("w", 10, 30)
    assert [t.row.id for t in leased] == [parent]
    _, [done] = await tasks.complete(parent, "w", str(leased[0].row.lease_token), {"exit_code": 0})
    assert done.unblocks  # the route wakes waiting claims: the child may run now
    leased, _ = await tasks.claim("w", 10, 30)
    assert [t.row.id for t in leased] == [child]
    _, [done] = await tasks.complete(child, "w", str(leased[0].row.lease_token), {"exit_code": 0})
    assert not done.unblocks
    assert done.task.dependencies == [parent]


async def test_failed_dependency_fails_the_waiting_task(tasks: TaskStore) -> None:
    parent = await _one(tasks, retry_attempts=0)
    child = await _one(tasks, dependencies=[parent])
    token = await _token(tasks)
    _, changes = await tasks.fail(parent, "w", token, {"exit_code": 1, "error": "boom"})
    assert [(c.task.row.id, c.event_type) for c in changes] == [
        (parent, "task.failed"),
        (child, "task.failed"),
    ]
    assert (await tasks.get(child)).row.status == "Failed"


async def test_failure_retries_then_fails(tasks: TaskStore) -> None:
    task_id = await _one(tasks, retry_attempts=1, retry_delay=0)
    _, [retry] = await tasks.fail(task_id, "w", await _token(tasks), {"exit_code": 1})
    assert (retry.task.row.status, retry.event_type) == ("Pending", "task.updated")
    _, [final] = await tasks.fail(task_id, "w", await _token(tasks), {"exit_code": 1})
    assert (final.task.row.status, final.event_type) == ("Failed", "task.failed")


async def test_worker_local_retries_count_and_requeue_does_not(tasks: TaskStore) -> None:
    task_id = await _one(tasks, retry_attempts=2, retry_delay=0)
    token = await _token(tasks)
    _, [requeued] = await tasks.fail(
        task_id, "w", token, {"error": "worker stopping"}, requeue=True
    )
    assert (requeued.task.row.status, requeued.task.row.attempts) == ("Pending", 0)
    _, [failed] = await tasks.fail(task_id, "w", await _token(tasks), {"exit_code": 1}, runs=3)
    assert (failed.task.row.status, failed.task.row.attempts) == ("Failed", 3)


async def test_expired_lease_returns_task_and_old_worker_is_refused(tasks: TaskStore) -> None:
    task_id = await _one(tasks)
    dead = await _token(tasks, "dead", 0.05)
    await asyncio.sleep(0.1)
    leased, expired = await tasks.claim("alive", 1, 30)
    assert [t.row.id for t in leased] == [task_id]
    assert leased[0].row.attempts == 2
    assert [c.task.row.id for c in expired] == [task_id]
    with pytest.raises(LeaseError):
        await tasks.complete(task_id, "dead", dead, {"exit_code": 0})
    await tasks.complete(task_id, "alive", str(leased[0].row.lease_token), {"exit_code": 0})


async def test_cancel_allowed_until_final_then_409(tasks: TaskStore) -> None:
    task_id = await _one(tasks)
    token = await _token(tasks)
    [change] = await tasks.cancel(task_id)
    assert change.event_type == "task.cancelled"
    assert (await tasks.heartbeat(task_id, "w", token, 30))[1] is True
    with pytest.raises(LeaseError):
        await tasks.heartbeat(task_id, "someone-else", "not-the-token", 30)
    with pytest.raises(InvalidTransitionError) as info:
        await tasks.cancel(task_id)
    assert info.value.allowed == []


async def test_workflow_phases_advance_in_order_with_reviews(tasks: TaskStore) -> None:
    task_id = await _one(tasks, task_type="Workflow", ai_reviews_required=2)
    for _ in range(4):
        await tasks.advance_phase(task_id, documentation="notes", artifacts=["a.txt"])
    stored = await tasks.get(task_id)
    assert stored.row.status == "AIReview"
    [first_review] = await tasks.advance_phase(task_id)
    assert (first_review.task.row.status, first_review.task.row.ai_reviews_completed) == (
        "AIReview",
        1,
    )
    await tasks.advance_phase(task_id)
    wire = (await tasks.get(task_id)).to_wire()
    assert wire["status"] == "Finalized"
    assert [p["phase"] for p in wire["phases"]] == [
        "Planning",
        "Implementation",
        "TestCreation",
        "Testing",
        "AIReview",
        "Finalized",
    ]
    assert wire["phases"][0]["documentation"] == "notes"
    assert all(p["completed_at"] for p in wire["phases"])
    with pytest.raises(InvalidTransitionError):
        await tasks.advance_phase(task_id)


async def test_bad_transition_lists_allowed(tasks: TaskStore) -> None:
    task_id = await _one(tasks)
    with pytest.raises(InvalidTransitionError) as info:
        await tasks.update(task_id, {"status": "Completed"})
    assert info.value.allowed == ["Running", "Cancelled"]


async def test_unknown_ids_and_cycles(tasks: TaskStore) -> None:
    with pytest.raises(NotFoundError):
        await tasks.get(uuid.uuid4())
    with pytest.raises(NotFoundError):
        await _one(tasks, dependencies=[uuid.uuid4()])
    a = await _one(tasks)
    b = await _one(tasks, dependencies=[a])
    with pytest.raises(Exception, match="cycle"):
        await tasks.update(a, {"dependencies": [b]})


async def test_stats_counts_queue(tasks: TaskStore) -> None:
    await _one(tasks, priority="High")
    await _one(tasks)
    await tasks.claim("w", 1, 30)
    stats = await tasks.stats()
    assert stats["tasks_by_status"] == {"Pending": 1, "Running": 1}
    assert stats["tasks_by_priority"] == {"High": 1, "Normal": 1}
    assert stats["workers_active"] == 1
    assert stats["queue_depth"] == 1
    assert stats["oldest_runnable_age_seconds"] >= 0
