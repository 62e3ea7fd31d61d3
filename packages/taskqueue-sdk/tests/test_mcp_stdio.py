"""``taskqueue mcp`` over stdio, driven by the mcp SDK's own client, against a real Task Queue
server process on PostgreSQL and a real ``taskqueue worker``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from mcp import Client, StdioServerParameters

from platform_core.testing.services import Service, free_port

pytest.importorskip("taskqueue_server", reason="the real server is the peer these tests need")


@dataclass
class Api:
    """A ``taskqueue-server serve`` process and a key it accepts."""

    url: str
    key: str


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKQUEUE_")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def database(postgres_service: Service) -> Iterator[str]:
    """A fresh PostgreSQL database for this module's server (starting one costs seconds, so
    the tests share it; each reads back only what it created)."""
    import psycopg

    name = f"mcp_stdio_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_service.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_service.url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_service.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def api(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A real server on PostgreSQL, with an API key made by its CLI."""
    port = free_port()
    env = _env(
        TASKQUEUE_DATABASE_URL=database,
        TASKQUEUE_PORT=str(port),
        TASKQUEUE_LOG_LEVEL="WARNING",
        TASKQUEUE_RATE_LIMIT_PER_MINUTE="100000",
    )
    tmp_path = tmp_path_factory.mktemp("mcp-stdio")
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskqueue_server", "serve"], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded machine starts it slowly
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "server did not become ready"
            try:
                with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        made = subprocess.run(
            [sys.executable, "-m", "taskqueue_server", "create-api-key", "--name", "mcp", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        yield Api(url, json.loads(made.stdout)["key"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@asynccontextmanager
async def stdio_client(api: Api, key: str, *args: str) -> AsyncIterator[Client]:
    """The mcp SDK's client on a ``taskqueue mcp`` subprocess configured by the environment."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "taskqueue.cli", "mcp", *args],
        env=_env(TASKQUEUE_BASE_URL=api.url, TASKQUEUE_API_KEY=key),
    )
    async with Client(params, read_timeout_seconds=60) as client:
        yield client


def start_worker(api: Api, log: BinaryIO) -> subprocess.Popen[bytes]:
    """Start a real ``taskqueue worker`` process against ``api``."""
    return subprocess.Popen(
        [sys.executable, "-m", "taskqueue.cli", "worker"],
        env=_env(TASKQUEUE_BASE_URL=api.url, TASKQUEUE_API_KEY=api.key),
        stdout=log,
        stderr=log,
    )


def _problem(result: Any) -> dict[str, Any]:
    assert result.is_error, result
    problem: dict[str, Any] = json.loads(result.content[0].text)
    return problem


async def test_tools_are_listed_with_input_and_output_schemas_and_marked(api: Api) -> None:
    async with stdio_client(api, api.key) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        prompts = [p.name for p in (await client.list_prompts()).prompts]
        listed = await client.list_resource_templates()
        templates = {t.uri_template for t in listed.resource_templates}

    assert set(tools) == {
        "create_task",
        "get_task",
        "list_tasks",
        "cancel_task",
        "retry_task",
        "get_stats",
        "task_graph",
    }
    create = tools["create_task"]
    task_schema = create.input_schema["$defs"]["TaskCreateRequest"]
    assert {"name", "command"} <= set(task_schema["required"])
    assert "dependencies" in task_schema["properties"]
    assert create.output_schema is not None
    assert {"id", "status", "dependencies"} <= set(create.output_schema["properties"])
    assert "next_cursor" in tools["list_tasks"].output_schema["properties"]  # type: ignore[index]
    assert "nodes" in tools["task_graph"].output_schema["properties"]  # type: ignore[index]
    for name in ("get_task", "list_tasks", "get_stats", "task_graph"):
        assert tools[name].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert create.annotations.read_only_hint is False  # type: ignore[union-attr]
    assert create.annotations.destructive_hint is False  # type: ignore[union-attr]
    assert tools["cancel_task"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert prompts == ["plan_tasks"]
    assert templates == {"taskqueue://tasks/{task_id}", "taskqueue://projects/{project_id}"}


async def test_read_only_flag_leaves_out_the_mutating_tools(api: Api) -> None:
    async with stdio_client(api, api.key, "--read-only") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert names == {"get_task", "list_tasks", "get_stats", "task_graph"}


async def test_tasks_with_dependencies_run_by_a_worker_and_their_graph(
    api: Api, tmp_path: Path
) -> None:
    worker_log = (tmp_path / "worker.log").open("wb")
    async with stdio_client(api, api.key) as client:
        first = await client.call_tool(
            "create_task", {"task": {"name": "fetch", "command": "echo 1"}}
        )
        assert not first.is_error, first.content
        first_id = first.structured_content["id"]  # type: ignore[index]
        second = await client.call_tool(
            "create_task",
            {"task": {"name": "build", "command": "echo 2", "dependencies": [first_id]}},
        )
        second_id = second.structured_content["id"]  # type: ignore[index]
        assert second.structured_content["dependencies"] == [first_id]  # type: ignore[index]

        worker = await asyncio.to_thread(start_worker, api, worker_log)
        try:
            deadline = time.monotonic() + 90
            while True:
                got = await client.call_tool("get_task", {"task_id": second_id})
                status = got.structured_content["status"]  # type: ignore[index]
                if status == "Completed":
                    break
                assert status in ("Pending", "Running"), got.structured_content
                assert time.monotonic() < deadline, "the worker did not finish the chain"
                await asyncio.sleep(0.3)
        finally:
            worker.terminate()
            await asyncio.to_thread(worker.wait, 30)
            worker_log.close()
        assert got.structured_content["result"]["stdout"].strip() == "2"  # type: ignore[index]

        graph = await client.call_tool("task_graph", {"task_id": first_id})
        notes: list[tuple[float, str | None]] = []

        async def progress(value: float, total: float | None, message: str | None) -> None:
            notes.append((value, message))

        upstream = await client.call_tool(
            "task_graph",
            {"task_id": second_id, "direction": "upstream"},
            progress_callback=progress,
        )
        page = await client.call_tool(
            "list_tasks", {"filters": {"status": "Completed"}, "limit": 1}
        )
        resource = await client.read_resource(f"taskqueue://tasks/{second_id}")

    nodes = {n["name"]: n for n in graph.structured_content["nodes"]}  # type: ignore[index]
    assert (nodes["fetch"]["depth"], nodes["build"]["depth"]) == (0, 1)
    assert nodes["build"]["status"] == "Completed"
    assert [n["name"] for n in upstream.structured_content["nodes"]] == ["fetch", "build"]  # type: ignore[index]
    assert notes == [(2, "upstream: depth 1 read, 2 tasks")]
    assert len(page.structured_content["tasks"]) == 1  # type: ignore[index]
    assert page.structured_content["next_cursor"]  # type: ignore[index]
    assert json.loads(resource.contents[0].text)["id"] == second_id  # type: ignore[union-attr]


async def test_wrong_key_is_a_tool_error_naming_the_auth_problem(api: Api) -> None:
    async with stdio_client(api, "tq_wrong_key") as client:
        result = await client.call_tool("get_stats", {})
    problem = _problem(result)
    assert problem["status"] == 401
    assert "API key" in problem["detail"]


async def test_bad_arguments_are_tool_errors_naming_the_field(api: Api) -> None:
    async with stdio_client(api, api.key) as client:
        schema_miss = await client.call_tool("create_task", {"task": {"command": "echo"}})
        api_refusal = await client.call_tool("list_tasks", {"limit": 0})
        unknown = await client.call_tool(
            "get_task", {"task_id": "00000000-0000-0000-0000-000000000000"}
        )
    assert schema_miss.is_error
    assert "task.name" in schema_miss.content[0].text  # type: ignore[union-attr]
    problem = _problem(api_refusal)
    assert problem["status"] == 422
    assert [e["loc"] for e in problem["errors"]] == [["query", "limit"]]
    assert _problem(unknown)["status"] == 404
    assert "Traceback" not in json.dumps(problem)


_BLOCK_MCP = "import sys; sys.modules['mcp'] = None; "


def test_import_taskqueue_does_not_need_mcp_and_the_missing_extra_is_named() -> None:
    plain = subprocess.run(
        [sys.executable, "-c", _BLOCK_MCP + "import taskqueue, taskqueue.cli; print('ok')"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    missing = subprocess.run(
        [sys.executable, "-c", _BLOCK_MCP + "import taskqueue.mcp"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    command = subprocess.run(
        [sys.executable, "-c", _BLOCK_MCP + "from taskqueue.cli import main; main()", "mcp"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=_env(),
    )
    assert (plain.returncode, plain.stdout.strip()) == (0, "ok"), plain.stderr
    assert missing.returncode == 1
    assert "pip install 'taskqueue-sdk[mcp]'" in missing.stderr
    assert command.returncode == 1
    assert "pip install 'taskqueue-sdk[mcp]'" in command.stderr
