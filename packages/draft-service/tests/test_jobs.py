"""Background job behaviour: stale guard, idempotent resend, failures, redelivery."""

from __future__ import annotations

import asyncio
import threading

from draft_llm_stub import OpenAIStub
from draft_test_helpers import make_settings, running, thread, wait_job


async def _wait_for(event: threading.Event) -> None:
    for _ in range(1500):
        if event.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the LLM server never received the request")


async def test_new_messages_during_the_llm_call_discard_the_stale_draft(
    database_url: str, llm: OpenAIStub
) -> None:
    hold = threading.Event()
    llm.script.hold = hold
    async with running(make_settings(database_url, llm)) as svc:
        c = svc.client
        first = await c.post(
            "/send-messages/", json=thread("bob", "trip", ("m1", "Ann", "Flight at 9?"))
        )
        await _wait_for(llm.script.arrived)  # job 1 is now inside the LLM call
        second = await c.post(
            "/send-messages/",
            json=thread("bob", "trip", ("m1", "Ann", "Flight at 9?"), ("m2", "Ann", "Or 11?")),
        )
        assert second.json()["job_id"] != first.json()["job_id"]
        hold.set()
        old = await wait_job(c, first.json()["job_id"], "bob")
        new = await wait_job(c, second.json()["job_id"], "bob")
        assert old["status"] == "discarded"
        assert "stale" in old["error"]
        assert old["draft_message_id"] is None
        assert new["status"] == "done"
        drafts = (await c.get("/draft-messages/", params={"user_id": "bob"})).json()
        assert [d["draft_message_id"] for d in drafts["draft_messages"]] == [
            new["draft_message_id"]
        ]
        # The surviving draft was written from the thread with the newer message.
        prompts = [r["messages"][1]["content"] for r in llm.script.requests]
        assert any("Or 11?" in p for p in prompts)


async def test_resending_known_messages_changes_nothing(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        body = thread("bob", "t", ("m1", "Ann", "Dinner?"), ("m2", "Ann", "At 8"))
        first = (await c.post("/send-messages/", json=body)).json()
        await wait_job(c, first["job_id"], "bob")
        again = await c.post("/send-messages/", json=body)
        assert again.status_code == 202
        assert again.json()["job_id"] == first["job_id"]
        partial = thread("bob", "t", ("m2", "Ann", "At 8"))
        assert (await c.post("/send-messages/", json=partial)).json()["job_id"] == first["job_id"]
        drafts = (await c.get("/draft-messages/", params={"user_id": "bob"})).json()
        assert len(drafts["draft_messages"]) == 1


async def test_new_messages_supersede_the_open_draft(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        one = (await c.post("/send-messages/", json=thread("bob", "t", ("1", "A", "Hi")))).json()
        old_id = (await wait_job(c, one["job_id"], "bob"))["draft_message_id"]
        body = thread("bob", "t", ("2", "A", "Are you there?"))
        two = (await c.post("/send-messages/", json=body)).json()
        new_id = (await wait_job(c, two["job_id"], "bob"))["draft_message_id"]
        drafts = (await c.get("/draft-messages/", params={"user_id": "bob"})).json()
        assert [d["draft_message_id"] for d in drafts["draft_messages"]] == [new_id]
        old = (await c.get(f"/drafts/{old_id}", params={"user_id": "bob"})).json()
        assert old["status"] == "superseded"
        # Feedback on a superseded draft is refused at once, with the reason.
        fb = await c.post(
            "/process-feedback/",
            json={"user_id": "bob", "draft_message_id": old_id, "feedback": "shorter"},
        )
        assert fb.status_code == 409
        assert "superseded" in fb.json()["detail"]


async def test_llm_down_fails_the_job_with_the_error(sqlite_url: str, llm: OpenAIStub) -> None:
    llm.script.always_status = 500
    settings = make_settings(sqlite_url, llm, llm_max_attempts=3)
    async with running(settings) as svc:
        c = svc.client
        r = await c.post("/send-messages/", json=thread("bob", "t", ("1", "A", "Hello?")))
        job = await wait_job(c, r.json()["job_id"], "bob")
        assert job["status"] == "failed"
        assert "LLMUnavailableError" in job["error"]
        assert "500" in job["error"]
        assert job["attempts"] == 3
        assert len(llm.script.requests) == 3
        drafts = (await c.get("/draft-messages/", params={"user_id": "bob"})).json()
        assert drafts == {"draft_messages": []}


async def test_llm_timeouts_are_retried_then_succeed(sqlite_url: str, llm: OpenAIStub) -> None:
    llm.script.delay = 0.6
    settings = make_settings(sqlite_url, llm, llm_timeout=0.3, llm_max_attempts=3)
    async with running(settings) as svc:
        c = svc.client
        r = await c.post("/send-messages/", json=thread("bob", "t", ("1", "A", "Hello?")))
        await _wait_for(llm.script.arrived)
        llm.script.delay = 0.0
        job = await wait_job(c, r.json()["job_id"], "bob")
        assert job["status"] == "done", job
        assert job["attempts"] >= 2


async def test_a_redelivered_job_creates_no_second_draft(database_url: str) -> None:
    settings = make_settings(database_url)
    async with running(settings, consume=False) as svc:
        c = svc.client
        r = await c.post("/send-messages/", json=thread("bob", "t", ("1", "A", "Hello?")))
        job_id = r.json()["job_id"]
        service = svc.runtime.service
        results = await asyncio.gather(service.run_job(job_id), service.run_job(job_id))
        assert set(results) == {"done"}
        assert await service.run_job(job_id) == "done"
        drafts = (await c.get("/draft-messages/", params={"user_id": "bob"})).json()
        assert len(drafts["draft_messages"]) == 1
        detail = await c.get(
            f"/drafts/{drafts['draft_messages'][0]['draft_message_id']}",
            params={"user_id": "bob"},
        )
        assert len(detail.json()["revisions"]) == 1


async def test_memory_mode_runs_jobs_a_previous_process_left_unfinished(
    database_url: str,
) -> None:
    settings = make_settings(database_url)
    # A process that stored the messages but died before its in-memory queue ran the job.
    async with running(settings, consume=False) as svc:
        sent = await svc.client.post("/send-messages/", json=thread("ann", "t", ("m1", "A", "hi")))
        job_id = sent.json()["job_id"]
        queued = await svc.client.get(f"/jobs/{job_id}", params={"user_id": "ann"})
        assert queued.json()["status"] == "queued"
    async with running(settings) as svc:
        done = await wait_job(svc.client, job_id, "ann")
        drafts = (await svc.client.get("/draft-messages/", params={"user_id": "ann"})).json()
    assert done["status"] == "done"
    assert len(drafts["draft_messages"]) == 1


async def test_jobs_finish_while_requests_hold_every_connection_of_theirs(
    postgres_url: str, llm: OpenAIStub
) -> None:
    """On PostgreSQL, ``serve``'s in-process jobs have a pool of their own: a job saves its
    draft while a burst of requests holds all the requests' connections."""
    from contextlib import AsyncExitStack

    from sqlalchemy import select

    from draft_service.db.engine import POOL_MAX
    from draft_service.db.schema import Job

    hold = threading.Event()
    llm.script.hold = hold
    url = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    async with running(make_settings(url, llm), consume=True) as svc:
        sent = await svc.client.post(
            "/send-messages/", json=thread("bob", "busy", ("m1", "Ann", "Any news?"))
        )
        job_id = sent.json()["job_id"]
        await _wait_for(llm.script.arrived)  # the job is inside the LLM call
        jobs = svc.runtime.job_engine
        assert jobs is not None
        engine = svc.runtime.engine
        async with AsyncExitStack() as stack:
            # Every connection the requests' pool opens (the sends keep some checked out).
            for _ in range(POOL_MAX - engine.pool.checkedout()):  # type: ignore[attr-defined]
                await stack.enter_async_context(engine.connect())
            assert engine.pool.checkedout() == POOL_MAX  # type: ignore[attr-defined]
            hold.set()
            status = "running"
            for _ in range(1500):
                async with jobs.connect() as conn:
                    query = select(Job.status).where(Job.id == job_id)
                    status = (await conn.execute(query)).scalar_one()
                if status != "running":
                    break
                await asyncio.sleep(0.01)
        assert status == "done"
