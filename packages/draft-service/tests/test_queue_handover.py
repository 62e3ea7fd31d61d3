"""Redis fails between a job's commit and its enqueue: the job waits in the database and the
relay hands it over once Redis is back; with Redis down before anything is stored, a 503."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from draft_test_helpers import make_settings, running, thread, wait_job
from redis.asyncio import Redis

from draft_service import build_runtime
from draft_service.models import SendMessagesRequest
from draft_service.store import Store
from platform_core.errors import DependencyUnavailableError
from platform_core.testing import PrivateRedis


async def _until_handed_over(
    client: httpx.AsyncClient, job_id: str, limit: float = 10.0
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        job: dict[str, Any] = (
            await client.get(f"/jobs/{job_id}", params={"user_id": "bob"})
        ).json()
        if job["error"] is None or loop.time() > deadline:
            return job
        await asyncio.sleep(0.05)


async def test_a_job_stored_while_redis_is_down_is_handed_over_once_and_drafted(
    database_url: str, private_redis: PrivateRedis
) -> None:
    settings = make_settings(
        database_url,
        redis_url=private_redis.url,
        rate_limit_per_minute=0,  # no Redis call before the job is stored
        queue_handover_timeout=0.5,
        queue_relay_interval=0.2,
    )
    body = thread("bob", "t1", ("m1", "Ann", "Can you send the report before Friday?"))
    async with running(settings) as svc:
        c = svc.client
        private_redis.stop()
        sent = await c.post("/send-messages/", json=body)
        assert sent.status_code == 202, sent.text
        job_id = sent.json()["job_id"]
        job = (await c.get(f"/jobs/{job_id}", params={"user_id": "bob"})).json()
        assert job["status"] == "queued"
        assert job["error"].startswith("waiting for the job queue: redis is unavailable")
        assert str(private_redis.port) not in job["error"]
        again = await c.post("/send-messages/", json=body)  # the client retries: same job
        assert again.status_code == 202
        assert again.json()["job_id"] == job_id

        private_redis.start()
        job = await _until_handed_over(c, job_id)
        assert (job["status"], job["error"]) == ("queued", None), job
        redis = Redis.from_url(private_redis.url)
        try:
            assert await redis.xlen("drafts:jobs") == 1  # handed over once
        finally:
            await redis.aclose()
        worker = await build_runtime(settings, consume=True, consumer="w1")
        try:
            done = await wait_job(c, job_id, "bob")
        finally:
            await worker.close()
        assert done["status"] == "done", done
        drafts = (await c.get("/draft-messages/", params={"user_id": "bob"})).json()
        assert [d["thread_name"] for d in drafts["draft_messages"]] == ["t1"]


async def test_with_redis_down_before_anything_is_stored_the_send_is_a_503(
    sqlite_url: str, private_redis: PrivateRedis
) -> None:
    """The rate limiter's Redis call comes first: Redis down there stores nothing."""
    settings = make_settings(sqlite_url, redis_url=private_redis.url, queue_handover_timeout=0.5)
    body = thread("bob", "t1", ("m1", "Ann", "Is the invoice ready?"))
    async with running(settings) as svc:
        private_redis.stop()
        sent = await svc.client.post("/send-messages/", json=body)
        assert sent.status_code == 503, sent.text
        assert sent.headers["retry-after"] == "5"
        assert sent.json()["service"] == "redis"
        assert str(private_redis.port) not in sent.text
        assert await svc.runtime.service.store.unfinished_jobs() == []
        threads = await svc.client.get("/draft-messages/", params={"user_id": "bob"})
        assert threads.json()["draft_messages"] == []


async def test_the_relay_keeps_the_mark_of_what_the_queue_did_not_take(
    database_url: str, tmp_path: Path
) -> None:
    """A round that fails part-way clears the marks of the jobs handed over, and only those;
    a marked job that is no longer queued loses its mark but keeps its status and error."""
    settings = make_settings(database_url)
    runtime = await build_runtime(settings, consume=False)
    store: Store = runtime.service.store
    try:
        ids = []
        for n in range(3):
            req = SendMessagesRequest.model_validate(
                thread("bob", f"t{n}", (f"m{n}", "Ann", "Hi?"))
            )
            ids.append((await store.add_messages(req)).job_id)
            await store.mark_unqueued(ids[-1], "redis is unavailable")
        await store.finish_job(ids[2], "failed", "the LLM answered 500")
        refused = {ids[1]}
        taken: list[str] = []

        async def enqueue(job_id: str) -> None:
            if job_id in refused:
                raise DependencyUnavailableError("redis", "stopped for the test")
            taken.append(job_id)

        count, failure = await store.hand_over_unqueued(enqueue)
        assert (count, taken) == (1, [ids[0]])
        assert isinstance(failure, DependencyUnavailableError)
        first, second, third = [await store.job(i, "bob") for i in ids]
        assert first.unqueued_since is None
        assert first.error is None
        assert second.unqueued_since is not None
        assert second.error is not None
        assert third.unqueued_since is not None  # not reached in this round

        refused.clear()
        count, failure = await store.hand_over_unqueued(enqueue)
        assert (count, failure, taken) == (1, None, [ids[0], ids[1]])
        first, second, third = [await store.job(i, "bob") for i in ids]
        assert all(j.unqueued_since is None for j in (first, second, third))
        assert second.status == "queued"
        assert second.error is None
        assert third.status == "failed"
        assert third.error == "the LLM answered 500"
    finally:
        await runtime.close()
