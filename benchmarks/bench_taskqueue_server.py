"""taskqueue-server: GET rate against a bare FastAPI floor, POST latency, 1,000 connections,
and claim -> complete throughput on PostgreSQL.

Every server runs in its own uvicorn process with the same settings (uvloop and httptools when
installed, access log off), so the ratio measures the app, not the client or the loop.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import Case, Harness
from benchmarks.loadgen import measure

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
UVICORN = {"log_config": None, "access_log": False, "backlog": 4096, "lifespan": "on"}
# uvicorn closes a keep-alive connection after 5 s idle (counted from when it sent the last
# response); httpx's default keep-alive expiry is also 5 s (counted from when the client
# finished reading it). A loaded client can then send a request on a connection the server is
# closing and get a reset (httpx.ReadError): the client's fault, not the server's. Expiring
# idle connections well before the server does removes that race.
KEEPALIVE_EXPIRY = 1.0


def _limits(connections: int) -> httpx.Limits:
    return httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )


_FLOOR_TASK = {
    "id": str(uuid.uuid4()),
    "name": "build",
    "command": "make",
    "status": "Pending",
    "priority": "Normal",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
}


def _serve_floor(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/api/tasks/{task_id}")
    async def get_task(task_id: uuid.UUID) -> dict[str, Any]:
        return _FLOOR_TASK

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, **UVICORN)  # type: ignore[arg-type]


def _spawn(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"server {args} did not start")
        time.sleep(0.1)


def _server_env(database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKQUEUE_")}
    env.update(
        TASKQUEUE_DATABASE_URL=database_url,
        TASKQUEUE_PORT=str(port),
        TASKQUEUE_LOG_LEVEL="WARNING",
        TASKQUEUE_RATE_LIMIT_PER_MINUTE="100000000",
    )
    return env


async def _new_key(database_url: str) -> str:
    from taskqueue_server.db.apikeys import ApiKeyStore
    from taskqueue_server.db.engine import create_engine, session_factory
    from taskqueue_server.migrate import upgrade

    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        return (await ApiKeyStore(session_factory(engine)).create("bench")).key
    finally:
        await engine.dispose()


def _postgres_db() -> tuple[str, Callable[[], None]]:
    import psycopg

    name = f"bench_tq_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


async def _gather_limited(n: int, width: int, one: Callable[[int], Awaitable[Any]]) -> None:
    async def lane(start: int) -> None:
        for i in range(start, n, width):
            await one(i)

    await asyncio.gather(*(lane(s) for s in range(min(width, n))))


async def _get_ratio(h: Harness, tmp: Path) -> None:
    from platform_core.testing.services import free_port

    database_url = f"sqlite:///{tmp / 'bench.db'}"
    key = await _new_key(database_url)
    port, floor_port = free_port(), free_port()
    server = _spawn(
        [sys.executable, "-m", "taskqueue_server", "serve"], _server_env(database_url, port), port
    )
    floor = _spawn(
        [sys.executable, "-m", "benchmarks.bench_taskqueue_server", "--floor", str(floor_port)],
        dict(os.environ),
        floor_port,
    )
    limits = _limits(32)
    try:
        async with (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, limits=limits
            ) as api,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{floor_port}", limits=limits) as bare,
        ):
            task = (await api.post("/api/tasks", json={"name": "b", "command": "true"})).json()
            path = f"/api/tasks/{task['id']}"

            def burst(client: httpx.AsyncClient) -> Callable[[int], Awaitable[None]]:
                async def run(n: int) -> None:
                    async def one(_: int) -> None:
                        (await client.get(path)).raise_for_status()

                    await _gather_limited(n, 32, one)

                return run

            await h.compare(
                "GET /api/tasks/{id} (SQLite, 32 connections)",
                Case("taskqueue-server", burst(api)),
                Case("bare FastAPI route, prebuilt dict", burst(bare)),
                ops=400,
                rounds=5,
                max_ratio=2.0,
                goal="ratio <= 2 (at least 50% of the floor's requests per second)",
            )
            await _thousand_connections(h, f"http://127.0.0.1:{port}", key, path)
    finally:
        for proc in (server, floor):
            proc.terminate()
            proc.wait(timeout=30)


async def _thousand_connections(h: Harness, base: str, key: str, path: str) -> None:
    conns = 100 if h.quick else 1000
    limits = _limits(conns)
    errors = 0
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": key}, limits=limits, timeout=120
    ) as client:

        async def one() -> None:
            nonlocal errors
            try:
                (await client.get(path)).raise_for_status()
            except httpx.HTTPError:
                errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(conns)))
        took = time.perf_counter() - start
    h.figure(
        f"{conns} concurrent connections (GET)",
        f"{errors} errors",
        f"all answered in {took:.1f} s; goal zero errors",
    )


async def _postgres(h: Harness) -> None:
    from platform_core.testing.services import free_port

    try:
        database_url, drop = _postgres_db()
    except Exception as exc:  # no PostgreSQL here: say so instead of failing the run
        h.figure("PostgreSQL benchmarks", "skipped", f"PostgreSQL unavailable: {exc}")
        return
    port = free_port()
    try:
        key = await _new_key(database_url)
        server = _spawn(
            [sys.executable, "-m", "taskqueue_server", "serve"],
            _server_env(database_url, port),
            port,
        )
        try:
            await _post_latency(h, f"http://127.0.0.1:{port}", key)
            await _claim_throughput(h, f"http://127.0.0.1:{port}", key)
            await _deep_pages(h, f"http://127.0.0.1:{port}", key, database_url)
            await _console_pages(h, f"http://127.0.0.1:{port}", key, database_url)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        drop()


PAGE = 100


def _seed_tasks(database_url: str, count: int) -> list[tuple[Any, uuid.UUID]]:
    """Insert ``count`` Pending tasks in one statement (ten share each created_at, so the id
    tie-break is exercised) and return every task's ``(created_at, id)`` in list order."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO tasks (id, name, command, acceptance_criteria, task_type, priority,
                priority_rank, retry_attempts, retry_delay, environment, status, phases,
                ai_reviews_required, ai_reviews_completed, metadata, created_at, updated_at,
                attempts, available_at)
            SELECT gen_random_uuid(), 'bulk ' || g, 'true', '[]', 'Simple', 'Normal', 1, 3,
                30.0, '{}', 'Pending', '[]', 3, 0, '{}',
                TIMESTAMPTZ '2026-01-01 00:00:00+00' + (g / 10) * INTERVAL '1 millisecond',
                now(), 0, now()
            FROM generate_series(1, %s) AS g
            """,
            (count,),
        )
        conn.execute("ANALYZE tasks")
        rows = conn.execute("SELECT created_at, id FROM tasks ORDER BY created_at, id").fetchall()
    return [(r[0], r[1]) for r in rows]


async def _deep_pages(h: Harness, base: str, key: str, database_url: str) -> None:
    """Page 1,000 of ``GET /api/tasks`` over 100,000 tasks, by cursor and by offset."""
    from taskqueue_server.db.cursor import encode_cursor, filters_fingerprint

    count = 10_000 if h.quick else 100_000
    deep = count // PAGE  # the last page: 1,000 of 100,000
    order = _seed_tasks(database_url, count)
    fingerprint = filters_fingerprint({})

    def cursor_before(page: int) -> str:
        created_at, row_id = order[(page - 1) * PAGE - 1]
        return encode_cursor(created_at, row_id, fingerprint)

    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=120) as api:

        def pages(params: dict[str, Any]) -> Callable[[int], Awaitable[None]]:
            async def run(n: int) -> None:
                for _ in range(n):
                    answer = await api.get("/api/tasks", params={"limit": PAGE, **params})
                    answer.raise_for_status()

            return run

        by_cursor = Case(f"page {deep:,} by cursor", pages({"cursor": cursor_before(deep)}))
        await h.compare(
            f"GET /api/tasks page {deep:,} vs page 2, by cursor ({count:,} tasks, PostgreSQL)",
            by_cursor,
            Case("page 2 by cursor", pages({"cursor": cursor_before(2)})),
            ops=40,
            rounds=5,
            max_ratio=1.5,
        )
        await h.compare(
            f"GET /api/tasks page {deep:,} by cursor vs page 1 ({count:,} tasks, PostgreSQL)",
            by_cursor,
            Case("page 1 (no cursor; counts the total)", pages({})),
            ops=40,
            rounds=5,
            max_ratio=1.5,
        )
        await h.compare(
            f"GET /api/tasks page {deep:,} vs page 1, by offset ({count:,} tasks, PostgreSQL)",
            Case(f"page {deep:,} by offset", pages({"offset": (deep - 1) * PAGE})),
            Case("page 1 by offset", pages({})),
            ops=20,
            rounds=3,
            goal="report (offset paging, still accepted: the cost the cursor avoids)",
        )


async def _console_pages(h: Harness, base: str, key: str, database_url: str) -> None:
    """The dashboard's tasks page (``/ui/tasks``, 50 rows rendered by Jinja2) over the tasks
    ``_deep_pages`` seeded: the last page by cursor against the first (which also counts)."""
    import re

    import psycopg

    from taskqueue_server.db.cursor import encode_cursor
    from taskqueue_server.ui.listing import PAGE_SIZE, Filters

    with psycopg.connect(database_url, autocommit=True) as conn:
        order = conn.execute("SELECT created_at, id FROM tasks ORDER BY created_at, id").fetchall()
    count = len(order)
    last = (count - 1) // PAGE_SIZE + 1
    created_at, row_id = order[(last - 1) * PAGE_SIZE - 1]
    cursor = encode_cursor(created_at, row_id, Filters().fingerprint())
    async with httpx.AsyncClient(base_url=base, timeout=120) as web:
        form = await web.get("/ui/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None, "the sign-in form has no CSRF token"
        signed = await web.post("/ui/sign-in", data={"csrf_token": token[1], "api_key": key})
        assert signed.status_code == 303, f"console sign-in failed: {signed.status_code}"

        def pages(params: dict[str, Any]) -> Callable[[int], Awaitable[None]]:
            async def run(n: int) -> None:
                for _ in range(n):
                    answer = await web.get("/ui/tasks", params=params)
                    answer.raise_for_status()

            return run

        row = await h.compare(
            f"GET /ui/tasks (dashboard) last page {last:,} by cursor vs page 1 "
            f"({count:,} tasks, PostgreSQL)",
            Case(f"page {last:,} by cursor", pages({"cursor": cursor})),
            Case("page 1 (counts up to 10,000)", pages({})),
            ops=40,
            rounds=5,
            max_ratio=1.5,
        )
        slowest = max(row.candidate_s, row.comparison_s) * 1000
        h.figure(
            f"GET /ui/tasks (dashboard) over {count:,} tasks: the slower of page 1 and the "
            "last page, request to full answer",
            f"{slowest:.1f} ms ({'met' if slowest < 50 else 'NOT met'}: goal under 50 ms)",
            "median per request of the rounds above, one client on loopback, 50 rows rendered "
            "by Jinja2; includes the client's own share of the CPU",
        )


def _summary_line(summary: dict[str, Any]) -> str:
    return (
        f"{summary['rps']:.0f} req/s; p50 {summary['p50_ms']:.1f} ms, "
        f"p99 {summary['p99_ms']:.1f} ms"
    )


def _summary_note(summary: dict[str, Any]) -> str:
    statuses = ", ".join(f"{k}: {v}" for k, v in summary["statuses"].items())
    errors = sum(summary["errors"].values())
    return f"{summary['requests']} requests ({statuses}), {errors} transport errors"


async def _post_latency(h: Harness, base: str, key: str) -> None:
    """POST /api/tasks at 64 connections, the load generator in its own process: closed loop
    (saturation) and open loop at half the saturation rate (latency from the scheduled send)."""
    n = 256 if h.quick else 64 * 32
    body = '{"name": "p{n}", "command": "true"}'

    async def post(requests: int, start_at: int, rate: float | None = None) -> dict[str, Any]:
        return await measure(
            f"{base}/api/tasks",
            method="POST",
            body=body,
            headers=[f"X-API-Key: {key}"],
            connections=64,
            requests=requests,
            start_at=start_at,
            rate=rate,
        )

    await post(256, 10**7)  # warm-up: connections and the database pool
    closed = await post(n, 0)
    h.figure(
        "POST /api/tasks, 64 connections, closed loop (saturation, PostgreSQL)",
        _summary_line(closed),
        _summary_note(closed) + "; each connection sends again as soon as it is answered, so "
        "p50 is about 64 / throughput (Little's law): it measures throughput",
    )
    rate = max(10.0, round(closed["rps"] / 2))
    opened = await post(n, 2 * n, rate)
    met = opened["p99_ms"] < 100 and not opened["errors"]
    conns = 100 if h.quick else 1000
    held = await measure(
        f"{base}/api/tasks",
        method="POST",
        body=body,
        headers=[f"X-API-Key: {key}"],
        connections=conns,
        requests=2 * conns,
        start_at=10**8,
    )
    failed = sum(held["errors"].values()) + sum(
        v for k, v in held["statuses"].items() if k != "201"
    )
    h.figure(
        f"POST /api/tasks over {conns} concurrent connections (PostgreSQL)",
        f"{failed} errors",
        _summary_note(held) + f"; {_summary_line(held)}; goal zero errors",
    )
    h.figure(
        f"POST /api/tasks, 64 connections, open loop at {rate:.0f} req/s "
        "(half the saturation rate, PostgreSQL)",
        f"p50 {opened['p50_ms']:.1f} ms, p99 {opened['p99_ms']:.1f} ms",
        _summary_note(opened) + "; latency counted from each request's scheduled send time; "
        "goal p99 < 100 ms: " + ("met" if met else "NOT met"),
    )


async def _claim_throughput(h: Harness, base: str, key: str) -> None:
    total = 100 if h.quick else 800
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": key}, limits=_limits(8), timeout=60
    ) as client:
        # Its own project, so the tasks the latency run left are not claimed.
        project = (await client.post("/api/projects", json={"name": "bench"})).json()["id"]
        for start in range(0, total, 100):
            batch = [
                {"name": f"c{i}", "command": "true", "project_id": project}
                for i in range(start, start + 100)
            ]
            (await client.post("/api/tasks/batch", json={"tasks": batch})).raise_for_status()
        done = 0

        async def worker(n: int) -> None:
            nonlocal done
            worker_id = f"bench-{n}"
            while True:
                claimed = await client.post(
                    "/api/workers/claim",
                    json={"worker_id": worker_id, "max_tasks": 5, "project_id": project},
                )
                tasks = claimed.json()["tasks"]
                if not tasks:
                    return
                for task in tasks:
                    (
                        await client.post(
                            f"/api/tasks/{task['id']}/complete",
                            json={
                                "worker_id": worker_id,
                                "lease_token": task["lease_token"],
                                "result": {"exit_code": 0},
                            },
                        )
                    ).raise_for_status()
                    done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(4)))
        took = time.perf_counter() - start
    h.figure(
        "claim -> complete, 4 workers (PostgreSQL)",
        f"{done / took:.0f} tasks/s",
        f"{done} tasks in {took:.1f} s",
    )


async def main(h: Harness) -> None:
    """Run the GET comparison, the connection test and the PostgreSQL figures."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        await _get_ratio(h, Path(tmp))
    await _postgres(h)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--floor":
    _serve_floor(int(sys.argv[2]))
