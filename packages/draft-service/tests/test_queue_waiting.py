"""In memory mode, queued jobs wait as text and become events as the spines make room."""

from __future__ import annotations

import asyncio
import gc

from draft_test_helpers import make_settings, running, thread

from draft_service.queue import JobQueue, WaitingJobs
from necrostack import InMemoryBackend


async def test_a_backlog_runs_in_order_and_stays_out_of_the_collectors_walk() -> None:
    backend = InMemoryBackend(maxsize=2, full_timeout=3600)
    queue = JobQueue(backend, concurrency=2, waiting=WaitingJobs())
    gate = asyncio.Event()
    ran: list[str] = []
    all_ran = asyncio.Event()

    async def run_job(job_id: str) -> str:
        await gate.wait()
        ran.append(job_id)
        if len(ran) == 1001:
            all_ran.set()
        return "done"

    queue.start(run_job)
    try:
        await queue.enqueue("warm-up")  # first-use set-ups of events and spines
        await asyncio.sleep(0.05)
        gc.collect()
        before = len(gc.get_objects())
        ids = [f"job-{n}" for n in range(1000)]
        for job_id in ids:
            await queue.enqueue(job_id)
        await asyncio.sleep(0.05)  # the spines took what the backend had room for
        gc.collect()
        grown = len(gc.get_objects()) - before
        assert grown < 300, grown  # as events: three tracked objects a job, 3,000 here
        gate.set()
        async with asyncio.timeout(10):
            await all_ran.wait()
        done = [job_id for job_id in ran if job_id != "warm-up"]
        assert sorted(done, key=lambda i: int(i.split("-")[1])) == ids  # each ran once
        # In the order they came: two spines let neighbours finish in either order.
        assert all(abs(int(job_id.split("-")[1]) - at) <= 2 for at, job_id in enumerate(done))
    finally:
        gate.set()
        await queue.close()


def test_a_full_waiting_room_says_so_and_still_takes_stored_jobs() -> None:
    waiting = WaitingJobs(limit=2)
    waiting.add("a")
    assert not waiting.full
    waiting.add("b")
    assert waiting.full
    waiting.add("c")  # its job is stored already: it must not be lost
    assert len(waiting) == 3


async def test_sends_over_the_waiting_limit_are_503_and_store_nothing(sqlite_url: str) -> None:
    from sqlalchemy import text

    settings = make_settings(sqlite_url, max_waiting_jobs=2)
    async with running(settings, consume=False) as svc:
        c = svc.client
        for name in ("t1", "t2"):
            r = await c.post("/send-messages/", json=thread("bob", name, ("m1", "Ann", "Hi?")))
            assert r.status_code == 202, r.text
        refused = await c.post("/send-messages/", json=thread("bob", "t3", ("m1", "Ann", "Hi?")))
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "30"
        assert "DRAFTS_MAX_WAITING_JOBS" in refused.json()["detail"]
        async with svc.runtime.engine.connect() as conn:
            threads = (await conn.execute(text("SELECT count(*) FROM threads"))).scalar_one()
        assert threads == 2  # nothing of the refused send was stored
