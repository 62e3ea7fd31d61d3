"""Redis Streams workers: the API only enqueues, workers run jobs, a killed worker's job is
finished by another worker with exactly one draft."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from draft_llm_stub import OpenAIStub
from draft_test_helpers import make_settings, running, thread, wait_job

from draft_service import build_runtime


async def test_api_enqueues_and_two_workers_draft_each_thread_once(
    database_url: str, redis_url: str, redis_key_prefix: str
) -> None:
    settings = make_settings(
        database_url, redis_url=redis_url, stream=f"{redis_key_prefix}drafts:jobs"
    )
    async with running(settings) as svc:
        assert not svc.runtime.queue.running  # with Redis the API process only enqueues
        c = svc.client
        job_ids = []
        for i in range(4):
            body = thread("bob", f"t{i}", (f"m{i}", "Ann", f"Question number {i}?"))
            job_ids.append((await c.post("/send-messages/", json=body)).json()["job_id"])
        workers = [await build_runtime(settings, consume=True, consumer=f"w{n}") for n in range(2)]
        try:
            jobs = [await wait_job(c, j, "bob") for j in job_ids]
        finally:
            for w in workers:
                await w.close()
        assert [j["status"] for j in jobs] == ["done"] * 4
        drafts = (await c.get("/draft-messages/", params={"user_id": "bob"})).json()
        assert sorted(d["thread_name"] for d in drafts["draft_messages"]) == [
            "t0",
            "t1",
            "t2",
            "t3",
        ]


async def _until(event: threading.Event, proc: subprocess.Popen[bytes]) -> None:
    # A deadline in wall time, generous because parallel test workers share the CPU with the
    # worker process starting up.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if event.is_set():
            return
        if proc.poll() is not None:
            raise AssertionError(
                f"worker exited early: {proc.stderr.read() if proc.stderr else ''!r}"
            )
        await asyncio.sleep(0.01)
    raise AssertionError("the worker never called the LLM")


async def test_worker_killed_mid_job_is_finished_by_another_with_one_draft(
    tmp_path: Path, redis_url: str, redis_key_prefix: str, llm: OpenAIStub
) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'drafts.db'}"
    stream = f"{redis_key_prefix}drafts:jobs"
    settings = make_settings(db, llm, redis_url=redis_url, stream=stream, job_claim_idle_ms=1000)
    hold = threading.Event()
    llm.script.hold = hold
    env = {
        **os.environ,
        "DRAFTS_DATABASE_URL": db,
        "DRAFTS_REDIS_URL": redis_url,
        "DRAFTS_STREAM": stream,
        "DRAFTS_JOB_CLAIM_IDLE_MS": "1000",
        "DRAFTS_LLM_PROVIDER": "openai",
        "OPENROUTER_API_KEY": "stub-key",
        "OPENROUTER_MODEL": "stub/model-1",
        "DRAFTS_LLM_BASE_URL": llm.base_url,
    }
    async with running(settings) as svc:
        c = svc.client
        body = thread("bob", "t", ("m1", "Ann", "Can you review the contract?"))
        job_id = (await c.post("/send-messages/", json=body)).json()["job_id"]
        proc = subprocess.Popen(  # noqa: ASYNC220 - started once, then polled without blocking
            [
                sys.executable,
                "-m",
                "draft_service",
                "worker",
                "--name",
                "doomed",
                "--concurrency",
                "1",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            await _until(llm.script.arrived, proc)
            assert (await wait_job(c, job_id, "bob", limit=0))["status"] == "running"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            if proc.stderr is not None:
                proc.stderr.close()
        llm.script.hold = None
        hold.set()  # the dead worker's request is answered into a closed socket
        survivor = await build_runtime(settings, consume=True, consumer="survivor")
        try:
            job = await wait_job(c, job_id, "bob")
        finally:
            await survivor.close()
        assert job["status"] == "done", job
        assert job["attempts"] >= 2  # the killed delivery and the one that finished
        drafts = (await c.get("/draft-messages/", params={"user_id": "bob"})).json()
        assert len(drafts["draft_messages"]) == 1
        detail = await c.get(
            f"/drafts/{drafts['draft_messages'][0]['draft_message_id']}",
            params={"user_id": "bob"},
        )
        assert len(detail.json()["revisions"]) == 1


def test_worker_refreshes_its_heartbeat_file_and_stops_cleanly_on_sigterm(
    tmp_path: Path, redis_url: str, redis_key_prefix: str
) -> None:
    beat = tmp_path / "worker.alive"
    env = {
        **os.environ,
        "DRAFTS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'drafts.db'}",
        "DRAFTS_REDIS_URL": redis_url,
        "DRAFTS_STREAM": f"{redis_key_prefix}drafts:jobs",
        "PLATFORM_HEARTBEAT_FILE": str(beat),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "draft_service", "worker", "--concurrency", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: beat.exists(), proc, "the worker never wrote its heartbeat file")
        time.sleep(1)  # past the touches made at start: the next one comes from the loop
        os.utime(beat, (0, 0))  # looks long dead; a live worker touches it again
        _wait_for(lambda: beat.stat().st_mtime > 0, proc, "the heartbeat was not refreshed")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    # The heartbeat interval is 5 s; the rest is start-up, slow when parallel tests share a CPU.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            raise AssertionError(f"worker exited: {proc.stderr.read() if proc.stderr else b''!r}")
        time.sleep(0.1)
    raise AssertionError(what)


def test_the_worker_command_runs_its_loop_on_uvloop_when_installed() -> None:
    """``draft-service worker`` runs on uvloop as ``serve`` does (uvicorn picks it)."""
    import uvloop

    from draft_service.cli import _run_loop

    seen: list[type[asyncio.AbstractEventLoop]] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()))

    _run_loop(main())
    assert seen == [uvloop.Loop]
