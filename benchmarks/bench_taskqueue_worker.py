"""taskqueue worker: create -> start latency with idle workers, and no-op command throughput
through real ``taskqueue worker`` processes on PostgreSQL, beside the bare spawn rate.

Everything runs as separate processes: one ``taskqueue-server serve`` on a fresh PostgreSQL
database and 8 ``taskqueue worker`` processes (long-polling claims). Commands append a line
to a file; the test of "started" is the command's own clock (``date +%s.%N``).

* Create -> start: tasks are created one at a time, 100 ms apart, so every one finds the
  workers idle inside a long poll; latency is from just before ``POST /api/tasks`` to the
  moment the command started. Goal: p50 under 50 ms.
* Throughput: ``BENCH_WORKER_TASKS`` (2,000) ``true``-like commands created in batches while
  8 workers (``--concurrency 4`` each) run them, until the last one is Completed. Goal: 150
  tasks/s. Ceiling: the same number of ``/bin/sh -c true`` spawned bare from one asyncio
  process 32 at a time (what the machine can spawn at all, no queue, no HTTP, no database).
  The end is seen by counting the commands' lines in their output file (the server is asked
  for its stats only to confirm every task Completed), so the measurement adds no load to the
  server. CPU per task is read from /proc for the server, the workers, their commands and the
  PostgreSQL backends of the server's pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_taskqueue_server import _new_key, _postgres_db, _server_env, _spawn
from benchmarks.harness import Harness

WORKERS = 8
CONCURRENCY = 4


def _start_workers(base: str, key: str, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKQUEUE_")}
    env.update(TASKQUEUE_BASE_URL=base, TASKQUEUE_API_KEY=key)
    procs = []
    for n in range(WORKERS):
        argv = [sys.executable, "-m", "taskqueue.cli", "worker", "--worker-id", f"w{n}"]
        argv += ["--concurrency", str(CONCURRENCY), "--claim-wait", "10", "--log-level", "WARNING"]
        with (log_dir / f"worker{n}.log").open("ab") as log:
            procs.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _latency(h: Harness, client: httpx.AsyncClient, out: Path) -> None:
    count = 40 if h.quick else 300
    sent: dict[str, float] = {}
    for i in range(count):
        before = time.time()
        command = f'echo "$TASKQUEUE_TASK_ID $(date +%s.%N)" >> {out}'
        answer = await client.post("/api/tasks", json={"name": f"lat{i}", "command": command})
        answer.raise_for_status()
        sent[answer.json()["id"]] = before
        await asyncio.sleep(0.1)
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = await asyncio.to_thread(_lines, out)
        if len(lines) >= count:
            break
        await asyncio.sleep(0.2)
    started = {task_id: float(at) for task_id, at in (line.split() for line in lines)}
    waits = sorted((started[t] - sent[t]) * 1000 for t in sent if t in started)
    p50 = statistics.median(waits)
    p99 = waits[min(len(waits) - 1, round(len(waits) * 0.99))]
    h.figure(
        f"create -> command start, {WORKERS} idle workers (PostgreSQL)",
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        f"{len(waits)} of {count} tasks, created 100 ms apart; goal p50 < 50 ms "
        f"({'met' if p50 < 50 else 'not met'})",
    )


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """(own, waited-for children) CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def _postgres_backends(url: str) -> list[int]:
    """The pids of the PostgreSQL backends serving the bench's database (the server's pool)."""
    import psycopg

    with psycopg.connect(url.replace("+asyncpg", ""), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def _backend_cpu(pids: list[int]) -> dict[int, float]:
    """Each live backend's CPU seconds (a backend that has exited is left out)."""
    found: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            found[pid] = _cpu_seconds(pid)[0]
    return found


async def _completed(client: httpx.AsyncClient) -> int:
    return int((await client.get("/api/stats")).json()["tasks_by_status"].get("Completed", 0))


async def _warm_up(client: httpx.AsyncClient) -> None:
    """Run a few tasks so every worker process has started and is long-polling."""
    before = await _completed(client)
    batch = [{"name": f"warm{i}", "command": "true"} for i in range(WORKERS * 2)]
    (await client.post("/api/tasks/batch", json={"tasks": batch})).raise_for_status()
    for _ in range(1200):
        if await _completed(client) >= before + len(batch):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)


async def _throughput(
    h: Harness, client: httpx.AsyncClient, out: Path, pids: tuple[int, list[int]], db_url: str
) -> float:
    server, workers = pids
    before = await _completed(client)
    backends = await asyncio.to_thread(_postgres_backends, db_url)
    pg_before = _backend_cpu(backends)
    cpu_before = [_cpu_seconds(pid) for pid in (server, *workers)]
    total = 200 if h.quick else int(os.environ.get("BENCH_WORKER_TASKS", "2000"))
    project = (await client.post("/api/projects", json={"name": "throughput"})).json()["id"]
    start = time.perf_counter()
    for first in range(0, total, 100):
        batch = [
            {"name": f"t{i}", "command": f"echo $TASKQUEUE_TASK_ID >> {out}", "project_id": project}
            for i in range(first, min(first + 100, total))
        ]
        (await client.post("/api/tasks/batch", json={"tasks": batch})).raise_for_status()
    # The commands append to ``out``: counting its lines costs the server nothing, so the
    # server's stats are asked only to confirm the end (every task Completed, not just run).
    while True:
        ran = len(await asyncio.to_thread(_lines, out))
        if ran >= total:
            stats = (await client.get("/api/stats")).json()
            if stats["tasks_by_status"].get("Completed", 0) >= total + before:
                break
        await asyncio.sleep(0.05)
    took = time.perf_counter() - start
    cpu_after = [_cpu_seconds(pid) for pid in (server, *workers)]
    pg_after = _backend_cpu(backends)
    pg_spent = sum(pg_after[p] - pg_before[p] for p in pg_after if p in pg_before)
    rate = total / took
    ran = len(await asyncio.to_thread(_lines, out))
    spent = [(a[0] - b[0], a[1] - b[1]) for a, b in zip(cpu_after, cpu_before, strict=True)]
    h.figure(
        "CPU per task during the throughput run",
        f"server {spent[0][0] / total * 1000:.1f} ms, workers "
        f"{sum(s[0] for s in spent[1:]) / total * 1000:.1f} ms, commands "
        f"{sum(s[1] for s in spent[1:]) / total * 1000:.1f} ms, PostgreSQL "
        f"{pg_spent / total * 1000:.1f} ms",
        "the server process; the 8 worker processes; their finished children (the /bin/sh "
        f"wrapper and the command); the {len(pg_after)} PostgreSQL backends of the "
        "server's pool alive at both ends",
    )
    h.figure(
        f"{total:,} no-op commands through {WORKERS} workers x {CONCURRENCY} (PostgreSQL)",
        f"{rate:.0f} tasks/s",
        f"{total} tasks in {took:.1f} s, {ran} command runs counted; goal 150 tasks/s "
        f"({'met' if rate >= 150 else 'not met'})",
    )
    return rate


async def _spawn_floor(h: Harness, total: int) -> float:
    async def one() -> None:
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", "true", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        await proc.communicate()

    async def lane(n: int) -> None:
        for _ in range(n):
            await one()

    width = WORKERS * CONCURRENCY
    start = time.perf_counter()
    await asyncio.gather(*(lane(total // width) for _ in range(width)))
    took = time.perf_counter() - start
    rate = (total // width) * width / took
    h.figure(
        "ceiling: bare /bin/sh -c true spawns, 32 at a time (one process)",
        f"{rate:.0f} spawns/s",
        f"{(total // width) * width} spawns in {took:.1f} s",
    )
    return rate


async def main(h: Harness) -> None:
    """Start the server and workers on a fresh PostgreSQL database and measure."""
    from platform_core.testing.services import free_port

    url, drop = _postgres_db()
    port = free_port()
    env: dict[str, Any] = _server_env(url, port)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        key = await _new_key(url)
        server = _spawn([sys.executable, "-m", "taskqueue_server", "serve"], env, port)
        base = f"http://127.0.0.1:{port}"
        try:
            with tempfile.TemporaryDirectory() as tmp:
                workers = _start_workers(base, key, Path(tmp))
                async with httpx.AsyncClient(
                    base_url=base, headers={"X-API-Key": key}, timeout=60
                ) as client:
                    await _warm_up(client)
                    await _latency(h, client, Path(tmp) / "latency")
                    rate = await _throughput(
                        h,
                        client,
                        Path(tmp) / "throughput",
                        (server.pid, [w.pid for w in workers]),
                        url,
                    )
                _stop(workers)
                workers = []
                floor = await _spawn_floor(h, 200 if h.quick else 2000)
                h.figure(
                    "throughput / spawn ceiling",
                    f"{rate / floor:.2f}",
                    "the share of the machine's bare spawn rate the queue delivers",
                )
        finally:
            _stop(workers)
            server.terminate()
            server.wait(20)
    finally:
        drop()
