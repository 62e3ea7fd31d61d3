"""Gentle with the LLM: a per-process limit of calls in flight, and streams of discarded jobs
closed so the server stops generating."""

from __future__ import annotations

import asyncio
import threading
import time

from draft_llm_stub import OpenAIStub
from draft_test_helpers import make_settings, running, thread, wait_job

from draft_service import build_runtime


async def _until(check: object, what: str, limit: float = 10.0) -> None:
    for _ in range(int(limit / 0.01)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(what)


async def test_jobs_queue_behind_the_llm_concurrency_limit(
    sqlite_url: str, llm: OpenAIStub
) -> None:
    hold = threading.Event()
    llm.script.hold = hold
    settings = make_settings(sqlite_url, llm, llm_concurrency=1, worker_concurrency=4)
    async with running(settings) as svc:
        c = svc.client
        jobs = [
            (await c.post("/send-messages/", json=thread("bob", f"t{i}", ("m", "A", "Hi?")))).json()
            for i in range(3)
        ]
        await _until(llm.script.arrived.is_set, "no call reached the LLM")
        await asyncio.sleep(0.3)
        assert len(llm.script.requests) == 1  # the other jobs wait for the one call in flight
        states = [(await wait_job(c, j["job_id"], "bob", limit=0))["status"] for j in jobs]
        assert states.count("running") == 3  # started, waiting their turn
        hold.set()
        done = [await wait_job(c, j["job_id"], "bob") for j in jobs]
        assert [d["status"] for d in done] == ["done"] * 3
        assert len(llm.script.requests) == 3  # one call per draft


async def test_the_deadline_starts_with_the_jobs_turn(sqlite_url: str, llm: OpenAIStub) -> None:
    """Five jobs behind one LLM slot, 0.4 s a call and a 1.5 s deadline: the last one's turn
    comes after 1.6 s, and it is still drafted with one call."""
    llm.script.delay = 0.4
    llm.script.serial = True
    settings = make_settings(
        sqlite_url, llm, llm_concurrency=1, worker_concurrency=5, llm_deadline=1.5
    )
    async with running(settings) as svc:
        c = svc.client
        jobs = [
            (await c.post("/send-messages/", json=thread("bob", f"t{i}", ("m", "A", "Hi?")))).json()
            for i in range(5)
        ]
        done = [await wait_job(c, j["job_id"], "bob") for j in jobs]
    assert [d["status"] for d in done] == ["done"] * 5, done
    assert len(llm.script.requests) == 5


async def test_a_superseded_jobs_stream_is_closed(database_url: str, llm: OpenAIStub) -> None:
    llm.script.stall = threading.Event()
    async with running(make_settings(database_url, llm)) as svc:
        c = svc.client
        body = thread("bob", "t", ("1", "Ann", "Flight at 9?"))
        first = await c.post("/send-messages/", json=body)
        await _until(llm.script.arrived.is_set, "no call reached the LLM")
        sent_at = time.monotonic()
        second = await c.post("/send-messages/", json=thread("bob", "t", ("2", "Ann", "Or 11?")))
        # The server sees the first stream's connection closed while it is still stalled.
        await _until(lambda: 1 in llm.script.closed, "the stale stream was not closed")
        # Within 100 ms of the superseding send (the stub looks every 5 ms).
        assert llm.script.closed_at[1] - sent_at < 0.1, llm.script.closed_at[1] - sent_at
        llm.script.stall.set()
        old = await wait_job(c, first.json()["job_id"], "bob")
        new = await wait_job(c, second.json()["job_id"], "bob")
        assert old["status"] == "discarded"
        assert "stale" in old["error"]
        assert new["status"] == "done"


async def test_rejecting_a_draft_closes_its_revision_stream(
    sqlite_url: str, llm: OpenAIStub
) -> None:
    async with running(make_settings(sqlite_url, llm)) as svc:
        c = svc.client
        r = await c.post("/send-messages/", json=thread("bob", "t", ("1", "Ann", "Dinner?")))
        draft_id = (await wait_job(c, r.json()["job_id"], "bob"))["draft_message_id"]
        llm.script.stall = threading.Event()
        fb = await c.post(
            "/process-feedback/",
            json={"user_id": "bob", "draft_message_id": draft_id, "feedback": "shorter"},
        )
        await _until(lambda: len(llm.script.requests) == 2, "the revision never called the LLM")
        await c.post("/reject-draft/", json={"user_id": "bob", "draft_message_id": draft_id})
        await _until(lambda: 2 in llm.script.closed, "the rejected draft's stream was not closed")
        job = await wait_job(c, fb.json()["job_id"], "bob")
        assert job["status"] == "discarded"
        assert "rejected" in job["error"]


async def test_a_redis_worker_closes_the_stream_when_the_api_supersedes(
    sqlite_url: str, redis_url: str, redis_key_prefix: str, llm: OpenAIStub
) -> None:
    llm.script.stall = threading.Event()
    settings = make_settings(
        sqlite_url, llm, redis_url=redis_url, stream=f"{redis_key_prefix}drafts:jobs"
    )
    async with running(settings) as api:
        worker = await build_runtime(settings, consume=True, consumer="w1")
        try:
            c = api.client
            body = thread("bob", "t", ("1", "Ann", "Flight at 9?"))
            first = (await c.post("/send-messages/", json=body)).json()
            await _until(llm.script.arrived.is_set, "the worker never called the LLM")
            sent_at = time.monotonic()
            await c.post("/send-messages/", json=thread("bob", "t", ("2", "Ann", "Or 11?")))
            await _until(lambda: 1 in llm.script.closed, "the worker did not close the stream")
            # The API's control event reaches the worker through Redis within 100 ms too.
            assert llm.script.closed_at[1] - sent_at < 0.1, llm.script.closed_at[1] - sent_at
            llm.script.stall.set()
            old = await wait_job(c, first["job_id"], "bob")
            assert old["status"] == "discarded"
        finally:
            await worker.close()
