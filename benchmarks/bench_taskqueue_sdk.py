"""taskqueue-sdk: 1,000 concurrent ``get_task`` calls vs raw httpx and aiohttp; memory, size.

The server is a minimal ASGI app in its own uvicorn process (so it does not share the
client's event loop) that answers ``GET /api/tasks/{id}`` with a fixed task. Every client
gets the same pool limit (1,000 connections).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import Case, Harness

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 1000
TASK_ID = str(uuid.uuid4())
_NOW = datetime.now(UTC).isoformat()
TASK_BODY = json.dumps(
    {
        "id": TASK_ID,
        "name": "nightly build",
        "command": "make all",
        "description": "bench",
        "acceptance_criteria": ["green"],
        "priority": "High",
        "status": "Running",
        "environment": {"CI": "1"},
        "created_at": _NOW,
        "updated_at": _NOW,
        "metadata": {"team": "infra"},
    }
).encode()


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI app the server process runs."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": TASK_BODY})


def _serve(port: int) -> None:
    import uvicorn

    uvicorn.run(
        _app,
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="off",
        ws="none",
        access_log=False,
        backlog=4096,
    )


def _start_server() -> tuple[subprocess.Popen[bytes], str]:
    from platform_core.testing.services import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_taskqueue_sdk", "--serve", str(port)], cwd=ROOT
    )
    import httpx

    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/tasks/{TASK_ID}", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


_RSS_CODE = (
    "import taskqueue\n"
    "c = taskqueue.AsyncTaskQueueClient('http://127.0.0.1:9')\n"
    "s = taskqueue.TaskQueueClient('http://127.0.0.1:9')\n"
    "print([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])"
)
_IMPORT_CODE = (
    "import time; t = time.perf_counter(); import taskqueue; print(time.perf_counter() - t)"
)


def _run_python(python: str, code: str) -> str:
    done = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True, cwd=tempfile.gettempdir()
    )
    return done.stdout.strip()


def _uv() -> str:
    return shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")


def _rss_mb(python: str) -> float:
    return int(_run_python(python, _RSS_CODE)) * 1024 / 1e6


def _figures(h: Harness) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # What a library user gets: a clean venv with only taskqueue-sdk (no extras) and core.
        venv = Path(tmp) / "venv"
        subprocess.run([_uv(), "venv", "-q", "-p", sys.executable, str(venv)], check=True)
        subprocess.run(
            [
                _uv(),
                "pip",
                "install",
                "-q",
                "--python",
                str(venv / "bin" / "python"),
                str(ROOT / "packages" / "core"),
                str(ROOT / "packages" / "taskqueue-sdk"),
            ],
            check=True,
        )
        python = str(venv / "bin" / "python")
        rss = statistics.median(_rss_mb(python) for _ in range(3))
        h.figure(
            "RSS after import + constructing both clients (clean install)",
            f"{rss:.1f} MB",
            f"goal < 50 MB: {'met' if rss < 50 else 'NOT met'}",
        )
        times = [float(_run_python(python, _IMPORT_CODE)) for _ in range(5)]
        h.figure(
            "import taskqueue (clean install, fresh interpreter)",
            f"{statistics.median(times) * 1e3:.0f} ms",
            "median of 5",
        )
        out = Path(tmp) / "dist"
        subprocess.run(
            [
                _uv(),
                "build",
                "-q",
                "--wheel",
                "--out-dir",
                str(out),
                str(ROOT / "packages" / "taskqueue-sdk"),
            ],
            check=True,
        )
        (wheel,) = out.glob("*.whl")
        kib = wheel.stat().st_size / 1024
        h.figure(
            "wheel size", f"{kib:.1f} KiB", f"goal < 5 MB: {'met' if kib < 5 * 1024 else 'NOT met'}"
        )
    dev = _rss_mb(sys.executable)
    h.figure(
        "RSS after import + construct (dev venv, every package)",
        f"{dev:.1f} MB",
        "rich is installed there, and httpx and structlog import it at start-up",
    )


async def main(h: Harness) -> None:
    """Run the comparisons and the figures."""
    import aiohttp
    import httpx

    from taskqueue import AsyncTaskQueueClient

    proc, url = _start_server()
    try:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        raw = httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0)
        sdk = AsyncTaskQueueClient(url, max_connections=CONCURRENCY, timeout=30.0)
        session = aiohttp.ClientSession(
            url,
            connector=aiohttp.TCPConnector(limit=CONCURRENCY),
            timeout=aiohttp.ClientTimeout(total=30),
        )
        path = f"/api/tasks/{TASK_ID}"

        async def raw_one() -> object:
            response = await raw.get(path)
            response.raise_for_status()
            return response.json()

        async def aiohttp_one() -> object:
            async with session.get(path) as response:
                response.raise_for_status()
                return await response.json()

        def burst(one: Any) -> Any:
            async def run(n: int) -> None:
                for start in range(0, n, CONCURRENCY):
                    await asyncio.gather(*(one() for _ in range(min(CONCURRENCY, n - start))))

            return run

        sdk_case = Case(
            "taskqueue AsyncTaskQueueClient.get_task", burst(lambda: sdk.get_task(TASK_ID))
        )
        await h.compare(
            "1,000 concurrent get_task",
            sdk_case,
            Case("raw httpx.AsyncClient (get + json)", burst(raw_one)),
            ops=CONCURRENCY,
            rounds=11,
            max_ratio=1.15,
        )
        await h.compare(
            "1,000 concurrent get_task (reference)",
            sdk_case,
            Case("aiohttp ClientSession (get + json)", burst(aiohttp_one)),
            ops=CONCURRENCY,
            rounds=5,
            goal="report (aiohttp, a different HTTP stack, for reference)",
        )
        fast = AsyncTaskQueueClient(
            url, max_connections=CONCURRENCY, timeout=30.0, transport="aiohttp"
        )
        await h.compare(
            "1,000 concurrent get_task, aiohttp transport",
            Case('taskqueue get_task, transport="aiohttp"', burst(lambda: fast.get_task(TASK_ID))),
            Case("aiohttp ClientSession (get + json)", burst(aiohttp_one)),
            ops=CONCURRENCY,
            rounds=11,
            max_ratio=1.5,
        )
        await raw.aclose()
        await sdk.aclose()
        await fast.aclose()
        await session.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    await _overhead(h)
    _figures(h)


async def _overhead(h: Harness) -> None:
    """The SDK's own CPU cost per call, without the network: build the call, parse a Task."""
    from taskqueue import _calls

    def sdk_layer(n: int) -> None:
        for _ in range(n):
            call = _calls.get_task(TASK_ID)
            call.headers()
            call.parse(TASK_BODY)

    def bare_json(n: int) -> None:
        for _ in range(n):
            json.loads(TASK_BODY)

    await h.compare(
        "per-call SDK work without I/O (build request + validate Task)",
        Case("taskqueue call + Task.model_validate_json", sdk_layer),
        Case("json.loads of the same body", bare_json),
        ops=5000,
        goal="report (explains the SDK's share of a get_task)",
    )


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    _serve(int(sys.argv[2]))
