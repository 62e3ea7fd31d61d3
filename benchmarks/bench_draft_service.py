"""draft-service: the 202 latency while the LLM is slow, and worker throughput on Redis.

1. ``POST /send-messages/`` to the 202 at 64 concurrent connections against a ``draft-service
   serve`` process whose in-process jobs call a 500 ms LLM: p50 and p99 (goal p99 < 50 ms),
   and the time per request compared with the bare floor ``GET /`` on the same server.
2. Drafts completed per second by 2 ``draft-service worker`` processes on Redis Streams with a
   200 ms LLM, as a share of the LLM-bound ceiling (workers x concurrency / latency; goal 80%).

The LLM is the OpenAI-compatible stub server from the package's tests, reached through the
real ``openai`` client. PostgreSQL (127.0.0.1:5432) is used when it answers, else SQLite.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import Case, Harness
from platform_core.testing.services import free_port, port_open

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packages/draft-service/tests"))

from draft_llm_stub import OpenAIStub  # noqa: E402

KEY = "bench-key"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _body(i: int, run: str) -> dict[str, Any]:
    return {
        "user_id": f"u{i % 50}",
        "thread_name": f"{run}-t{i}",
        "messages": [
            {
                "message_id": f"m{i}",
                "sender_name": "Ann",
                "date": "2024-05-01",
                "time": "09:00:00",
                "message_content": f"Can you send the report number {i} before Friday?",
            }
        ],
    }


async def _database(tmp: Path) -> tuple[str, str | None]:
    """A fresh database URL, and the PostgreSQL database name to drop afterwards."""
    if port_open("127.0.0.1", 5432):
        import asyncpg

        name = f"draft_bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", name
    return f"sqlite+aiosqlite:///{tmp / 'bench.db'}", None


async def _drop(name: str | None) -> None:
    if name is None:
        return
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def _env(db: str, llm: OpenAIStub, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DRAFTS_DATABASE_URL": db,
        "DRAFTS_API_KEY": KEY,
        "DRAFTS_LLM_PROVIDER": "openai",
        "OPENROUTER_API_KEY": "stub",
        "OPENROUTER_MODEL": "stub/model",
        "DRAFTS_LLM_BASE_URL": llm.base_url,
        "DRAFTS_LOG_LEVEL": "WARNING",
        **extra,
    }


async def _wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError("draft-service serve exited during start")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("draft-service serve did not start")


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m draft_service ARGS`` with stderr (the JSON logs) in ``log``."""
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "draft_service", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _show_errors(log: Path) -> None:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    for line in [x for x in lines if '"error"' in x or "Traceback" in x][:5]:
        print("  log:", line[:300])


RESETS = [0]


async def _retrying(call: Any, *args: Any, **kwargs: Any) -> httpx.Response:
    """One request; a keep-alive connection the server closed meanwhile is retried once
    (the time of both attempts counts). Resets are reported as a figure."""
    try:
        response: httpx.Response = await call(*args, **kwargs)
    except (httpx.ReadError, httpx.RemoteProtocolError):
        RESETS[0] += 1
        response = await call(*args, **kwargs)
    return response


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def bench_send_latency(h: Harness, tmp: Path) -> None:
    llm = OpenAIStub().start()
    llm.script.delay = 0.5
    db, dbname = await _database(tmp)
    port = free_port()
    proc = _spawn(["serve", "--port", str(port)], _env(db, llm), tmp / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_http(f"{base}/", proc)
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(
            base_url=base, limits=limits, headers=headers, timeout=60.0
        ) as client:
            run = uuid.uuid4().hex[:6]
            counter = iter(range(10**9))

            async def send_n(n: int) -> list[float]:
                latencies: list[float] = []

                async def one_conn(k: int) -> None:
                    for _ in range(k):
                        i = next(counter)
                        start = time.perf_counter()
                        r = await _retrying(client.post, "/send-messages/", json=_body(i, run))
                        latencies.append(time.perf_counter() - start)
                        if r.status_code != 202:
                            raise RuntimeError(f"send-messages answered {r.status_code}")

                per = max(1, n // 64)
                await asyncio.gather(*(one_conn(per) for _ in range(64)))
                return latencies

            async def floor_lat(n: int) -> list[float]:
                latencies: list[float] = []

                async def one_conn(k: int) -> None:
                    for _ in range(k):
                        start = time.perf_counter()
                        await _retrying(client.get, "/")
                        latencies.append(time.perf_counter() - start)

                await asyncio.gather(*(one_conn(max(1, n // 64)) for _ in range(64)))
                return latencies

            async def floor_n(n: int) -> None:
                await floor_lat(n)

            await send_n(64)  # warm-up: connections, first jobs in flight
            lat = sorted(await send_n(64 * (4 if h.quick else 16)))
            p50 = statistics.median(lat)
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            h.figure(
                "POST /send-messages/ p50 to 202 (64 conns, 500 ms LLM)",
                f"{p50 * 1e3:.1f} ms",
                f"{len(lat)} requests",
            )
            h.figure(
                "POST /send-messages/ p99 to 202 (64 conns, 500 ms LLM)",
                f"{p99 * 1e3:.1f} ms",
                "goal < 50 ms: " + ("met" if p99 < 0.05 else "NOT met"),
            )
            h.figure("connections reset by the server and retried", str(RESETS[0]))
            floor = sorted(await floor_lat(64 * (4 if h.quick else 16)))
            h.figure(
                "bare GET / p50 / p99 on the same server, same load (the floor)",
                f"{statistics.median(floor) * 1e3:.1f} / "
                f"{floor[min(len(floor) - 1, int(len(floor) * 0.99))] * 1e3:.1f} ms",
                "what this machine gives a no-op endpoint at 64 connections",
            )

            async def send_case(n: int) -> None:
                await send_n(n)

            await h.compare(
                "POST /send-messages/ vs GET / (64 conns, jobs on a 500 ms LLM in flight)",
                Case("send-messages -> 202", send_case),
                Case("bare GET / same server", floor_n),
                ops=256,
                rounds=5,
                goal="report (the floor does no validation, database write or enqueue)",
            )
    finally:
        _stop(proc)
        llm.stop()
        await _drop(dbname)
        _show_errors(tmp / "serve.log")


async def bench_worker_throughput(h: Harness, tmp: Path) -> None:
    from draft_service import DraftSettings, build_runtime
    from draft_service.models import SendMessagesRequest

    llm = OpenAIStub().start()
    llm.script.delay = 0.2
    db, dbname = await _database(tmp)
    stream = f"bench:{uuid.uuid4().hex[:8]}:drafts:jobs"
    concurrency = 8
    extra = {
        "DRAFTS_REDIS_URL": REDIS_URL,
        "DRAFTS_STREAM": stream,
        "DRAFTS_WORKER_CONCURRENCY": str(concurrency),
    }
    env = _env(db, llm, **extra)
    settings = DraftSettings.load(
        database_url=db,
        api_key=KEY,
        redis_url=REDIS_URL,
        stream=stream,
        llm_provider="offline",
    )
    producer = await build_runtime(settings, consume=False)
    workers = [
        _spawn(["worker", "--name", f"bench-w{n}"], env, tmp / "workers.log") for n in range(2)
    ]
    jobs = 160 if h.quick else 800
    ceiling = 2 * concurrency / 0.2
    try:
        # Warm up: both workers connected and drafting before the clock starts.
        warm = [
            await producer.service.send_messages(SendMessagesRequest.model_validate(_body(i, "w")))
            for i in range(2 * concurrency)
        ]
        await _await_jobs(producer, warm)
        run = uuid.uuid4().hex[:6]
        requests = [SendMessagesRequest.model_validate(_body(i, run)) for i in range(jobs)]
        start = time.perf_counter()
        ids: list[str] = []
        for k in range(0, jobs, 32):  # enqueue faster than the ceiling drains
            batch = requests[k : k + 32]
            ids += await asyncio.gather(*(producer.service.send_messages(r) for r in batch))
        await _await_jobs(producer, ids)
        elapsed = time.perf_counter() - start
        rate = jobs / elapsed
        h.figure(
            "drafts/s, 2 Redis workers x 8, 200 ms LLM",
            f"{rate:.1f}/s",
            f"{jobs} drafts in {elapsed:.1f} s; ceiling {ceiling:.0f}/s",
        )
        share = rate / ceiling
        h.figure(
            "share of LLM-bound ceiling",
            f"{share * 100:.0f}%",
            "goal >= 80%: " + ("met" if share >= 0.8 else "NOT met"),
        )
    finally:
        for w in workers:
            _stop(w)
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(REDIS_URL)
        await client.delete(stream, f"{stream}:dead", f"{stream}:retry")
        await client.aclose()
        await producer.close()
        llm.stop()
        await _drop(dbname)
        _show_errors(tmp / "workers.log")


async def _await_jobs(runtime: Any, ids: list[str]) -> None:
    """Wait until every job is done, with one counting query per poll."""
    from sqlalchemy import func, select

    from draft_service.db.schema import Job

    query = select(Job.status, func.count()).where(Job.id.in_(ids)).group_by(Job.status)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        async with runtime.engine.connect() as conn:
            counts = {row[0]: row[1] for row in (await conn.execute(query)).all()}
        if counts.get("failed") or counts.get("discarded"):
            raise RuntimeError(f"jobs ended badly: {counts}")
        if counts.get("done", 0) == len(ids):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("jobs never finished")


async def main(h: Harness) -> None:
    """Run both draft-service benchmarks."""
    import tempfile

    load = os.getloadavg()[0]
    h.figure("1-min load average at start", f"{load:.2f}", f"{os.cpu_count()} cores shared")
    with tempfile.TemporaryDirectory() as tmp:
        await bench_send_latency(h, Path(tmp))
        await bench_worker_throughput(h, Path(tmp))
