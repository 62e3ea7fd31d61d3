"""End to end: SDK, two `taskqueue worker` processes, signed webhooks, a killed worker."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taskqueue import AsyncTaskQueueClient
from taskqueue.models import TaskStatus

if TYPE_CHECKING:
    from conftest import Receiver, ServerProcess


async def test_two_workers_run_commands_retries_timeouts_and_chains(
    make_server: Callable[..., ServerProcess],
    sqlite_url: str,
    key_for: Callable[..., Any],
    workers: Callable[..., Any],
    receiver: Receiver,
) -> None:
    server = make_server(sqlite_url)
    key = await key_for(server)
    async with AsyncTaskQueueClient(base_url=server.url, api_key=key) as client:
        await client.create_webhook(
            receiver.url, ["task.completed", "task.failed"], secret=receiver.secret
        )
        echo = await client.create_task(name="echo", command="echo hello")
        failing = await client.create_task(
            name="fails", command="echo oops >&2; exit 3", retry_attempts=1, retry_delay=0
        )
        slow = await client.create_task(
            name="slow", command="sleep 20", timeout=1, retry_attempts=0
        )
        first = await client.create_task(name="first", command="echo 1")
        second = await client.create_task(name="second", command="echo 2", dependencies=[first.id])
        third = await client.create_task(name="third", command="echo 3", dependencies=[second.id])
        procs = [workers(server, key, "--concurrency", "2") for _ in range(2)]

        done = {
            t.id: await client.wait_for_completion(t.id, timeout=90, poll_interval=0.2)
            for t in (echo, failing, slow, first, second, third)
        }
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        assert [await asyncio.to_thread(proc.wait, 30) for proc in procs] == [0, 0]

    assert done[echo.id].status is TaskStatus.COMPLETED
    assert done[echo.id].result is not None
    assert done[echo.id].result.stdout.strip() == "hello"
    assert done[failing.id].status is TaskStatus.FAILED
    assert done[failing.id].attempts == 2
    assert done[failing.id].result is not None
    assert (done[failing.id].result.exit_code, done[failing.id].result.stderr.strip()) == (
        3,
        "oops",
    )
    assert done[slow.id].status is TaskStatus.FAILED
    assert done[slow.id].result is not None
    assert "timed out" in (done[slow.id].result.error or "").lower()
    chain = [done[t.id] for t in (first, second, third)]
    assert [t.status for t in chain] == [TaskStatus.COMPLETED] * 3
    assert chain[0].updated_at <= chain[1].updated_at <= chain[2].updated_at

    receiver.wait_for(
        lambda events: (
            {(e.type, e.data["id"]) for e in events}
            >= {("task.completed", str(echo.id)), ("task.failed", str(failing.id))}
        )
    )
    completed = next(e for e in receiver.events if e.data["id"] == str(echo.id))
    assert completed.task().result is not None
    assert completed.task().result.stdout.strip() == "hello"


async def test_killed_worker_task_runs_again_after_lease_expires(
    make_server: Callable[..., ServerProcess],
    sqlite_url: str,
    key_for: Callable[..., Any],
    workers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    server = make_server(sqlite_url)
    key = await key_for(server)
    marker = tmp_path / "ran-once"
    command = f"if [ -f {marker} ]; then echo second; else touch {marker}; sleep 60; fi"
    async with AsyncTaskQueueClient(base_url=server.url, api_key=key) as client:
        task = await client.create_task(name="crashy", command=command)
        doomed = workers(server, key, "--lease", "2")
        for _ in range(300):
            if marker.exists():
                break
            await asyncio.sleep(0.1)
        assert marker.exists()
        doomed.kill()
        await asyncio.to_thread(doomed.wait, 10)
        workers(server, key, "--lease", "2")
        final = await client.wait_for_completion(task.id, timeout=60, poll_interval=0.2)
    assert final.status is TaskStatus.COMPLETED
    assert final.attempts == 2
    assert final.result is not None
    assert final.result.stdout.strip() == "second"
