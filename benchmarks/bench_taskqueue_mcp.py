"""taskqueue MCP: what the MCP layer costs per call.

``get_task`` as an MCP tool over Streamable HTTP (``/mcp`` on a real server process: JSON-RPC,
the key check, then the API called in-process with the caller's key) against the SDK's own
``get_task`` over HTTP on the same server, sequential calls on one connection each. Also the
import cost of ``taskqueue.mcp`` (the ``mcp`` SDK) on top of what the server already imports.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import httpx2

from benchmarks.bench_taskqueue_server import _new_key, _server_env, _spawn
from benchmarks.harness import Case, Harness
from platform_core.testing.services import free_port

_IMPORT_COST = (
    "import time, fastapi, httpx, sqlalchemy, taskqueue, api_core\n"
    "t = time.perf_counter()\n"
    "import taskqueue.mcp\n"
    "print(time.perf_counter() - t)\n"
)


def _import_cost() -> float:
    run = subprocess.run(
        [sys.executable, "-c", _IMPORT_COST], capture_output=True, text=True, check=True
    )
    return float(run.stdout)


async def main(h: Harness) -> None:
    """Run the module's benchmarks."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from taskqueue import AsyncTaskQueueClient

    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        key = await _new_key(database_url)
        port = free_port()
        server = _spawn(
            [sys.executable, "-m", "taskqueue_server", "serve"],
            _server_env(database_url, port),
            port,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with (
                AsyncTaskQueueClient(base, api_key=key) as sdk,
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http,
                Client(streamable_http_client(f"{base}/mcp", http_client=http)) as mcp,
            ):
                task = await sdk.create_task(name="bench", command="true")
                args = {"task_id": str(task.id)}

                async def via_mcp(n: int) -> None:
                    for _ in range(n):
                        result = await mcp.call_tool("get_task", args)
                        assert not result.is_error, result.content

                async def via_sdk(n: int) -> None:
                    for _ in range(n):
                        await sdk.get_task(task.id)

                await h.compare(
                    "get_task as an MCP tool over /mcp vs the SDK over HTTP (sequential)",
                    Case("MCP tools/call get_task", via_mcp),
                    Case("SDK get_task", via_sdk),
                    ops=200,
                    rounds=5,
                    goal="report",
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    costs = sorted([_import_cost() for _ in range(3)])
    h.figure(
        "import taskqueue.mcp after fastapi/httpx/sqlalchemy/taskqueue",
        f"{costs[1] * 1000:.0f} ms",
        "median of 3 fresh processes",
    )
