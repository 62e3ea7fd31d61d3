"""The ``taskqueue worker`` process against the real server: concurrency, retries scheduled by
the server, long-poll pickup, a temporary working directory, no orphan after SIGKILL, tasks
handed back on SIGTERM, and results kept through a server outage."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taskqueue import AsyncTaskQueueClient
from taskqueue.models import TaskStatus

if TYPE_CHECKING:
    from conftest import ServerProcess


async def _until(probe: Callable[[], bool], what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds * 20)):
        if probe():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split(") ")[-1][0] != "Z"


async def test_concurrent_runs_and_a_failing_task_blocks_nobody(
    make_server: Callable[..., ServerProcess],
    sqlite_url: str,
    key_for: Callable[..., Any],
    workers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    server = make_server(sqlite_url)
    key = await key_for(server)
    seen = tmp_path / "seen"
    seen.mkdir()
    # Each of these finishes only once all three run at the same time.
    together = (
        f'touch {seen}/"$TASKQUEUE_TASK_ID"; '
        f"for i in $(seq 300); do [ $(ls {seen} | wc -l) -ge 3 ] && exit 0; sleep 0.1; done; "
        "exit 1"
    )
    async with AsyncTaskQueueClient(base_url=server.url, api_key=key) as client:
        failing = await client.create_task(
            name="fails", command="exit 7", retry_attempts=2, retry_delay=3600, priority="High"
        )
        group = [
            await client.create_task(name=f"t{n}", command=together, retry_attempts=0)
            for n in range(3)
        ]
        quick = [await client.create_task(name=f"q{n}", command="true") for n in range(10)]
        workers(server, key, "--concurrency", "3")
        for task in [*group, *quick]:
            done = await client.wait_for_completion(task.id, timeout=60, poll_interval=0.1)
            assert done.status is TaskStatus.COMPLETED, done.result
        held = await client.get_task(failing.id)
    # The failure went back to the server, which holds the retry until run_after; the worker
    # went on with everything else meanwhile.
    assert (held.status, held.attempts) == (TaskStatus.PENDING, 1)
    assert held.run_after is not None
    assert held.result is not None
    assert held.result.exit_code == 7


async def test_an_idle_worker_is_woken_by_a_task_created_on_another_server_process(
    make_server: Callable[..., ServerProcess],
    postgres_url: str,
    key_for: Callable[..., Any],
    workers: Callable[..., Any],
) -> None:
    # The worker long-polls server A; the task is created through server B. Only PostgreSQL's
    # NOTIFY reaches A (its fallback re-check is 10 s away, the claim wait 30 s).
    first = make_server(postgres_url)
    second = make_server(postgres_url)
    key = await key_for(first)
    workers(first, key, "--claim-wait", "30")
    async with AsyncTaskQueueClient(base_url=second.url, api_key=key) as client:
        await asyncio.sleep(2)  # the worker is now inside a long poll
        task = await client.create_task(name="wake", command="true")
        done = await client.wait_for_completion(task.id, timeout=5, poll_interval=0.05)
    assert done.status is TaskStatus.COMPLETED


async def test_commands_run_in_a_fresh_temporary_directory_removed_afterwards(
    make_server: Callable[..., ServerProcess],
    sqlite_url: str,
    key_for: Callable[..., Any],
    workers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    server = make_server(sqlite_url)
    key = await key_for(server)
    async with AsyncTaskQueueClient(base_url=server.url, api_key=key) as client:
        one = await client.create_task(name="a", command="touch left-over; pwd")
        two = await client.create_task(name="b", command="ls -A | wc -l; pwd")
        chosen = await client.create_task(name="c", command="pwd", working_directory=str(tmp_path))
        workers(server, key, "--concurrency", "1")
        done = [
            await client.wait_for_completion(t.id, timeout=60, poll_interval=0.1)
            for t in (one, two, chosen)
        ]
    assert all(d.result is not None for d in done)
    first = done[0].result.stdout.strip()  # type: ignore[union-attr]
    entries, second = done[1].result.stdout.split()  # type: ignore[union-attr]
    assert entries == "0"  # the second task's directory was empty...
    assert first != second  # ...and not the first one's
    assert "taskqueue-task-" in first
    assert not await asyncio.to_thread(os.path.exists, first)
    assert not await asyncio.to_thread(os.path.exists, second)
    assert done[2].result.stdout.strip() == str(tmp_path)  # type: ignore[union-attr]


async def test_a_killed_worker_leaves_no_command_running(
    make_server: Callable[..., ServerProcess],
    sqlite_url: str,
    key_for: Callable[..., Any],
    workers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    server = make_server(sqlite_url)
    key = await key_for(server)
    pid_file = tmp_path / "pid"
    # A grandchild of the worker, in the background of a compound command.
    command = f"sleep 300 & echo $! > {pid_file}; wait"
    async with AsyncTaskQueueClient(base_url=server.url, api_key=key) as client:
        await client.create_task(name="orphan?", command=command)
        doomed = workers(server, key)
        await _until(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "start")
        pid = int(pid_file.read_text())
        assert _alive(pid)
        doomed.send_signal(signal.SIGKILL)
        await asyncio.to_thread(doomed.wait, 10)
        await _until(lambda: not _alive(pid), "the command to die with its worker", 10)


async def test_sigterm_kills_commands_after_the_timeout_and_hands_their_tasks_back(
    make_server: Callable[..., ServerProcess],
    sqlite_url: str,
    key_for: Callable[..., Any],
    workers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    server = make_server(sqlite_url)
    key = await key_for(server)
    async with AsyncTaskQueueClient(base_url=server.url, api_key=key) as client:
        tasks = [
            await client.create_task(
                name=f"long{n}", command=f"echo $$ > {tmp_path}/{n}; exec sleep 300"
            )
            for n in range(2)
        ]
        proc = workers(server, key, "--concurrency", "2", "--shutdown-timeout", "0.5")
        pid_files = [tmp_path / str(n) for n in range(2)]
        await _until(lambda: all(p.exists() and p.read_text() for p in pid_files), "start")
        pids = [int(p.read_text()) for p in pid_files]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 20) == 0
        after = [await client.get_task(t.id) for t in tasks]
    assert [(t.status, t.attempts) for t in after] == [(TaskStatus.PENDING, 0)] * 2
    assert not any(_alive(pid) for pid in pids)


async def test_a_result_finished_during_a_server_outage_is_reported_after_it(
    make_server: Callable[..., ServerProcess],
    postgres_url: str,
    key_for: Callable[..., Any],
    workers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    server = make_server(postgres_url)
    key = await key_for(server)
    started, runs = tmp_path / "started", tmp_path / "runs"
    command = f"touch {started}; sleep 1; echo ran >> {runs}; echo done"
    async with AsyncTaskQueueClient(base_url=server.url, api_key=key) as client:
        task = await client.create_task(name="outage", command=command)
        workers(server, key, "--lease", "30")
        await _until(started.exists, "the command to start")
        server.stop(signal.SIGKILL)
        await _until(runs.exists, "the command to finish while the server is down")
        await asyncio.sleep(6)  # longer than the SDK's default retries (about 3 s)
        server.start()
        done = await client.wait_for_completion(task.id, timeout=60, poll_interval=0.1)
    assert (done.status, done.attempts) == (TaskStatus.COMPLETED, 1)
    assert done.result is not None
    assert done.result.stdout == "done\n"
    assert runs.read_text() == "ran\n"  # run once: the kept result was reported


async def test_a_command_does_not_inherit_the_workers_api_key(
    make_server: Callable[..., ServerProcess],
    sqlite_url: str,
    key_for: Callable[..., Any],
    workers: Callable[..., Any],
) -> None:
    # A command runs what its producer wrote: with the worker's key it could claim, complete
    # or fail any task of the tenant.
    server = make_server(sqlite_url)
    key = await key_for(server)
    show = 'echo "key=${TASKQUEUE_API_KEY:-none} task=$TASKQUEUE_TASK_ID"'
    async with AsyncTaskQueueClient(base_url=server.url, api_key=key) as client:
        plain = await client.create_task(name="plain", command=show)
        own = await client.create_task(
            name="own", command=show, environment={"TASKQUEUE_API_KEY": "its-own"}
        )
        workers(server, key, "--concurrency", "2")
        done = [
            await client.wait_for_completion(t.id, timeout=60, poll_interval=0.1)
            for t in (plain, own)
        ]
    outputs = [d.result.stdout.strip() if d.result else "" for d in done]
    assert outputs == [f"key=none task={plain.id}", f"key=its-own task={own.id}"]
