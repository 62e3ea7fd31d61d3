"""Related-message retrieval with the memory archive when jobs run in several worker processes:
each worker catches its own archive up from the shared database, so a job finds related
messages of threads another worker drafted (or drafted before a restart)."""

from __future__ import annotations

from draft_llm_stub import OpenAIStub
from draft_test_helpers import make_settings, running, thread, wait_job

from activity_store import ActivityStore
from activity_store.backends import MemoryBackend
from activity_store.caches import MemoryCache
from draft_service import Runtime, build_runtime
from draft_service.activity_archive import ActivityArchive


def _memory_archive() -> ActivityArchive:
    """A worker process's own archive: nobody else sees what it stores."""
    return ActivityArchive(ActivityStore(MemoryBackend(), MemoryCache(), namespace="w"))


def _related(llm: OpenAIStub) -> str:
    prompt = str(llm.script.requests[-1]["messages"][1]["content"])
    return prompt.split("Related earlier messages", 1)[1]


async def test_a_worker_finds_related_messages_of_threads_another_worker_drafted(
    database_url: str,
    redis_url: str,
    redis_key_prefix: str,
    llm: OpenAIStub,
) -> None:
    settings = make_settings(
        database_url,
        llm,
        redis_url=redis_url,
        stream=f"{redis_key_prefix}jobs",
        related_scope="user",
    )
    workers: list[Runtime] = []
    async with running(settings) as api:
        c = api.client

        async def drafted_by(worker: Runtime, body: dict[str, object]) -> None:
            job_id = (await c.post("/send-messages/", json=body)).json()["job_id"]
            assert await worker.service.run_job(job_id) == "done"
            job = await wait_job(c, job_id, str(body["user_id"]), limit=0)
            assert job["status"] == "done"

        try:
            for _ in range(2):  # two worker processes, each with its own archive
                archive = _memory_archive()
                assert not archive.shared
                workers.append(await build_runtime(settings, consume=False, archive=archive))
            a, b = workers
            lease = ("f1", "Carol", "The warehouse lease invoice is overdue.")
            await drafted_by(a, thread("bob", "finance", lease))
            await drafted_by(a, thread("eve", "secret", ("s1", "Mal", "Eve's lease invoice.")))
            ask = ("o1", "Dan", "Did anyone pay the warehouse lease invoice?")
            await drafted_by(b, thread("bob", "ops", ask))
            assert "The warehouse lease invoice is overdue." in _related(llm)
            assert "Eve" not in _related(llm)  # another user's messages never leak in
            # Newer messages of a thread B already holds reach it too (a new thread version).
            update = ("f2", "Carol", "Reminder: the generator service contract ends soon.")
            await drafted_by(a, thread("bob", "finance", lease, update))
            ask = ("o2", "Dan", "Who renews the generator service contract?")
            await drafted_by(b, thread("bob", "ops", ask))
            assert "the generator service contract ends soon" in _related(llm)
        finally:
            for worker in workers:
                await worker.close()


async def test_related_messages_survive_a_restart_of_the_single_process(
    sqlite_url: str, llm: OpenAIStub
) -> None:
    settings = make_settings(sqlite_url, llm)
    body = thread("bob", "finance", ("f1", "Carol", "The warehouse lease invoice is overdue."))
    async with running(settings, archive=_memory_archive()) as svc:
        r = await svc.client.post("/send-messages/", json=body)
        assert (await wait_job(svc.client, r.json()["job_id"], "bob"))["status"] == "done"
    async with running(settings, archive=_memory_archive()) as svc:  # restarted: empty archive
        ask = thread("bob", "ops", ("o1", "Carol", "Who pays the warehouse lease invoice?"))
        r = await svc.client.post("/send-messages/", json=ask)
        assert (await wait_job(svc.client, r.json()["job_id"], "bob"))["status"] == "done"
    assert "The warehouse lease invoice is overdue." in _related(llm)
