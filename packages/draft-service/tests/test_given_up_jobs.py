"""Jobs the queue gives up on end visibly: ``failed`` with the error, never ``running`` forever.

A delivery that fails outside the LLM call (here: the database cannot save the draft) is
redelivered; after the last delivery the backend dead-letters the event and the job is failed
with the error it recorded. A job whose workers die on every delivery is failed the same way.
"""

from __future__ import annotations

import pytest
from draft_test_helpers import make_settings, running, thread, wait_job
from sqlalchemy import text

from draft_service import build_runtime
from necrostack import load_backend
from platform_core.redis import RedisSettings


@pytest.mark.parametrize("queue", ["memory", "redis"])
async def test_a_job_whose_database_writes_keep_failing_ends_failed_with_the_error(
    queue: str,
    database_url: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra: dict[str, object] = {"job_max_deliveries": 3}
    if queue == "redis":
        prefix = request.getfixturevalue("redis_key_prefix")
        extra.update(redis_url=request.getfixturevalue("redis_url"), stream=f"{prefix}jobs")
        monkeypatch.setenv("NECROSTACK_RETRY_BACKOFF_BASE", "0.02")
    settings = make_settings(database_url, **extra)
    async with running(settings) as svc:
        c = svc.client
        async with svc.runtime.engine.begin() as conn:  # no draft can be saved any more
            await conn.execute(text("DROP TABLE revisions"))
        r = await c.post("/send-messages/", json=thread("bob", "t", ("m1", "Ann", "Lunch?")))
        job_id = r.json()["job_id"]
        workers = []
        if queue == "redis":
            workers.append(await build_runtime(settings, consume=True, consumer="w1"))
        try:
            job = await wait_job(c, job_id, "bob")
        finally:
            for worker in workers:
                await worker.close()
    assert job["status"] == "failed", job
    assert job["error"].startswith("failed after 3 deliveries: "), job["error"]
    assert "revisions" in job["error"]  # the database's own complaint, first line only
    assert "[SQL:" not in job["error"]
    assert job["attempts"] == 3


async def test_a_job_whose_workers_keep_dying_ends_failed(
    sqlite_url: str, redis_url: str, redis_key_prefix: str
) -> None:
    stream = f"{redis_key_prefix}jobs"
    settings = make_settings(
        sqlite_url,
        redis_url=redis_url,
        stream=stream,
        job_max_deliveries=1,
        job_claim_idle_ms=100,
    )
    async with running(settings) as svc:
        c = svc.client
        r = await c.post("/send-messages/", json=thread("bob", "t", ("m1", "Ann", "Lunch?")))
        job_id = r.json()["job_id"]
        # A worker takes the job and dies before finishing it (it never acks).
        doomed = load_backend(
            "redis",
            redis_settings=RedisSettings(url=redis_url),
            stream=stream,
            group="draft-workers",
            consumer="doomed",
        )
        taken = await doomed.pull(5.0)
        assert taken is not None
        assert taken.payload["job_id"] == job_id
        await doomed.close()
        survivor = await build_runtime(settings, consume=True, consumer="survivor")
        try:
            job = await wait_job(c, job_id, "bob")
        finally:
            await survivor.close()
    assert job["status"] == "failed", job
    assert job["error"] == (
        "failed after 2 deliveries: delivered without an ack: the consumer crashed or stalled "
        "each time"
    )
