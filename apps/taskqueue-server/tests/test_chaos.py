"""Chaos on PostgreSQL: real ``taskqueue worker`` processes while two of them are SIGKILLed
and the server is SIGKILLed and kept down for 10 s. Every task ends Completed, each command
ran once, and nothing is left running.

The task count is ``TASKQUEUE_CHAOS_TASKS`` (default 300, which fits the CI budget on this
2-core machine: about a minute, most of it the 10 s outage and the 20 s lease the killed
workers' tasks wait out). The issue's full run is ``TASKQUEUE_CHAOS_TASKS=2000``.

"Once" has one honest exception: a worker SIGKILLed after its command finished but before the
server took its report cannot report it, so that task runs again once its lease lapses
(at-least-once; nothing can close that window from the worker's side). The commands record
which worker ran them, so the test allows a second run only for a task whose other run was on
a killed worker, and counts them.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from taskqueue import AsyncTaskQueueClient, TaskQueueError
from taskqueue.models import TaskStatus

if TYPE_CHECKING:
    from conftest import ServerProcess

pytestmark = pytest.mark.timeout(900)

TASKS = int(os.environ.get("TASKQUEUE_CHAOS_TASKS", "300"))
WORKERS = 8
CONCURRENCY = "4"
LEASE = "20"
OUTAGE = 10.0


def _leftovers(worker_ids: set[str]) -> list[int]:
    """Processes still running a command of one of ``worker_ids``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(f"TASKQUEUE_WORKER_ID={w}".encode() in environ for w in worker_ids):
            found.append(int(entry.name))
    return found


async def test_every_task_completes_once_through_worker_and_server_kills(
    make_server: Callable[..., ServerProcess],
    postgres_url: str,
    key_for: Callable[..., Any],
    workers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    server = make_server(postgres_url)
    key = await key_for(server)
    runs = tmp_path / "runs"
    command = f'echo "$TASKQUEUE_TASK_ID $TASKQUEUE_WORKER_ID" >> {runs}'
    procs: dict[str, Any] = {}

    def start(worker_id: str) -> None:
        procs[worker_id] = workers(
            server, key, "--worker-id", worker_id, "--concurrency", CONCURRENCY, "--lease", LEASE
        )

    async with AsyncTaskQueueClient(base_url=server.url, api_key=key) as client:
        created = await client.create_tasks(
            [{"name": f"chaos-{i}", "command": command} for i in range(TASKS)]
        )
        ids = {str(t.id) for t in created.succeeded}
        assert len(ids) == TASKS
        for n in range(WORKERS):
            start(f"w{n}")
        done = 0

        async def progress(at_least: float, seconds: float = 600) -> None:
            nonlocal done
            for _ in range(int(seconds * 10)):
                try:
                    stats = await client.get_stats()
                    done = stats.tasks_by_status.get(TaskStatus.COMPLETED, 0)
                except TaskQueueError:  # the server is down: keep the last count
                    pass
                if done >= at_least:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"stuck at {done} of {TASKS} completed")

        killed = []
        for share, victim, replacement in [(0.15, "w0", "w8"), (0.35, "w1", "w9")]:
            await progress(TASKS * share)
            procs[victim].send_signal(signal.SIGKILL)
            await asyncio.to_thread(procs[victim].wait, 10)
            killed.append(victim)
            start(replacement)
        await progress(TASKS * 0.5)
        server.stop(signal.SIGKILL)
        await asyncio.sleep(OUTAGE)
        server.start()
        await progress(TASKS)
        # A killed worker's commands died with it; nothing of theirs runs any more.
        assert _leftovers(set(killed)) == []
        alive = [p for w, p in procs.items() if w not in killed]
        for proc in alive:
            proc.send_signal(signal.SIGTERM)
        assert [await asyncio.to_thread(p.wait, 60) for p in alive] == [0] * len(alive)
        final = await client.get_stats()

    assert final.tasks_by_status == {TaskStatus.COMPLETED: TASKS}
    assert _leftovers(set(procs)) == []
    ran_by: defaultdict[str, list[str]] = defaultdict(list)
    for line in (await asyncio.to_thread(runs.read_text)).splitlines():
        task_id, worker_id = line.split()
        ran_by[task_id].append(worker_id)
    assert set(ran_by) == ids
    again = {t: w for t, w in ran_by.items() if len(w) > 1}
    for task_id, worker_ids in again.items():
        # Only the window a SIGKILL can hit: run, not yet reported, by a killed worker.
        assert len(worker_ids) == 2, (task_id, worker_ids)
        assert set(worker_ids) & set(killed), (task_id, worker_ids)
    print(
        f"\nchaos: {TASKS} tasks, {len(procs)} workers ({', '.join(killed)} SIGKILLed), "
        f"server down {OUTAGE:g} s; runs per task {dict(Counter(map(len, ran_by.values())))}"
    )
