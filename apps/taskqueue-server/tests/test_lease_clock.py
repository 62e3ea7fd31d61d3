"""The service clock on SQLite and PostgreSQL: a lease does not run out while no server runs.

An outage is simulated by moving the clock row and the lease expiry into the past (no
sleeping): the server was last seen ``OUTAGE`` seconds ago, and a lease that was valid then
has since lapsed on the wall clock.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from taskqueue_server.db.engine import session_factory
from taskqueue_server.db.lease_clock import LeaseClock
from taskqueue_server.db.schema import ServiceClockRow, TaskRow, utcnow
from taskqueue_server.db.tasks import TaskStore

OUTAGE = timedelta(seconds=60)


def _clock(engine: AsyncEngine) -> LeaseClock:
    return LeaseClock(session_factory(engine), 1.0, lock_rows=engine.dialect.name == "postgresql")


async def _leased(tasks: TaskStore) -> tuple[uuid.UUID, str]:
    await tasks.create_many([{"name": "t", "command": "true"}])
    [task], _ = await tasks.claim("holder", 1, 30)
    return task.row.id, str(task.row.lease_token)


async def _set(
    engine: AsyncEngine, seen_at: datetime, task_id: uuid.UUID, expiry: datetime
) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(ServiceClockRow).values(seen_at=seen_at))
        await conn.execute(
            update(TaskRow).where(TaskRow.id == task_id).values(lease_expires_at=expiry)
        )


async def _expiry(engine: AsyncEngine, task_id: uuid.UUID) -> datetime:
    async with engine.connect() as conn:
        value = await conn.scalar(select(TaskRow.lease_expires_at).where(TaskRow.id == task_id))
    assert value is not None
    return value


async def test_a_lease_valid_when_the_service_stopped_gets_the_outage_back(
    tasks: TaskStore, engine: AsyncEngine
) -> None:
    clock = _clock(engine)
    assert not clock.current()  # no tick yet: claims expire nothing
    assert await clock.tick() == timedelta(0)  # the first tick only creates the row
    assert clock.current()
    task_id, token = await _leased(tasks)
    now = utcnow()
    lapsed = now - OUTAGE + timedelta(seconds=20)  # valid at the last tick, lapsed since
    await _set(engine, now - OUTAGE, task_id, lapsed)

    gap = await _clock(engine).tick()

    assert gap >= OUTAGE
    assert await _expiry(engine, task_id) == lapsed + gap
    leased, expired = await tasks.claim("other", 1, 30)
    assert (leased, expired) == ([], [])  # nobody else gets it
    await tasks.heartbeat(task_id, "holder", token, 30)  # its worker still holds it
    await tasks.complete(task_id, "holder", token, {"exit_code": 0})


async def test_a_lease_that_lapsed_before_the_outage_is_not_revived(
    tasks: TaskStore, engine: AsyncEngine
) -> None:
    await _clock(engine).tick()
    task_id, _ = await _leased(tasks)
    now = utcnow()
    await _set(engine, now - OUTAGE, task_id, now - OUTAGE - timedelta(seconds=1))

    assert await _clock(engine).tick() >= OUTAGE

    [again], _ = await tasks.claim("other", 1, 30)
    assert again.row.id == task_id


async def test_no_outage_no_credit(tasks: TaskStore, engine: AsyncEngine) -> None:
    await _clock(engine).tick()
    task_id, _ = await _leased(tasks)
    now = utcnow()
    expiry = now - timedelta(seconds=1)
    await _set(engine, now - timedelta(seconds=2), task_id, expiry)  # a late tick, no outage

    assert await _clock(engine).tick() == timedelta(0)

    assert await _expiry(engine, task_id) == expiry
    [again], _ = await tasks.claim("other", 1, 30)
    assert again.row.id == task_id


async def test_replicas_starting_together_credit_an_outage_once(
    tasks: TaskStore, engine: AsyncEngine
) -> None:
    await _clock(engine).tick()
    task_id, _ = await _leased(tasks)
    now = utcnow()
    lapsed = now - OUTAGE + timedelta(seconds=20)
    await _set(engine, now - OUTAGE, task_id, lapsed)

    gaps = await asyncio.gather(*(_clock(engine).tick() for _ in range(4)))

    credited = [g for g in gaps if g]
    assert len(credited) == 1, gaps
    assert await _expiry(engine, task_id) == lapsed + credited[0]
