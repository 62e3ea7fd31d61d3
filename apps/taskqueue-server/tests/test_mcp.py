"""The MCP server mounted at ``/mcp`` (Streamable HTTP), driven by the mcp SDK's own client
against real server processes: tools act with the caller's API key."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from taskqueue_server.app import create_server_app
from taskqueue_server.db.apikeys import ApiKeyStore
from taskqueue_server.db.engine import create_engine, session_factory
from taskqueue_server.db.tenancy import Role
from taskqueue_server.settings import ServerSettings

if TYPE_CHECKING:
    from conftest import ServerProcess


@asynccontextmanager
async def mcp_client(url: str, headers: dict[str, str]) -> AsyncIterator[Client]:
    """The mcp SDK's client on ``{url}/mcp`` sending ``headers`` with every request."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        yield client


def _problem(result: Any) -> dict[str, Any]:
    assert result.is_error, result
    problem: dict[str, Any] = json.loads(result.content[0].text)
    return problem


async def test_tools_are_listed_with_schemas_and_mutating_ones_are_marked(
    server: ServerProcess, api_key: str
) -> None:
    async with mcp_client(server.url, {"Authorization": f"Bearer {api_key}"}) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) == {
        "create_task",
        "get_task",
        "list_tasks",
        "cancel_task",
        "retry_task",
        "get_stats",
        "task_graph",
    }
    for tool in tools.values():
        assert tool.output_schema is not None, tool.name
        assert tool.annotations is not None, tool.name
    assert "TaskCreateRequest" in tools["create_task"].input_schema["$defs"]
    assert "TaskFilters" in tools["list_tasks"].input_schema["$defs"]
    read_only = {name for name, tool in tools.items() if tool.annotations.read_only_hint}  # type: ignore[union-attr]
    assert read_only == {"get_task", "list_tasks", "get_stats", "task_graph"}
    assert tools["cancel_task"].annotations.destructive_hint is True  # type: ignore[union-attr]


async def test_tasks_with_dependencies_complete_under_a_worker(
    make_server: Callable[..., ServerProcess],
    postgres_url: str,
    key_for: Callable[..., Any],
    workers: Callable[..., Any],
) -> None:
    server = make_server(postgres_url)
    key = await key_for(server)
    async with mcp_client(server.url, {"X-API-Key": key}) as client:
        project = await asyncio.to_thread(
            httpx.post,
            f"{server.url}/api/projects",
            json={"name": "mcp"},
            headers={"Authorization": f"Bearer {key}"},
        )
        project_id = project.json()["id"]
        ids: list[str] = []
        for name in ("lint", "test", "ship"):
            made = await client.call_tool(
                "create_task",
                {
                    "task": {
                        "name": name,
                        "command": f"echo {name}",
                        "project_id": project_id,
                        "dependencies": ids[-1:],
                    }
                },
            )
            assert not made.is_error, made.content
            ids.append(made.structured_content["id"])  # type: ignore[index]
        workers(server, key)
        for _ in range(300):
            last = await client.call_tool("get_task", {"task_id": ids[-1]})
            if last.structured_content["status"] == "Completed":  # type: ignore[index]
                break
            await asyncio.sleep(0.3)
        graph = await client.call_tool("task_graph", {"task_id": ids[1]})
        listed = await client.call_tool(
            "list_tasks", {"filters": {"project_id": project_id}, "limit": 2}
        )
        following = await client.call_tool(
            "list_tasks",
            {
                "filters": {"project_id": project_id},
                "limit": 2,
                "cursor": listed.structured_content["next_cursor"],  # type: ignore[index]
            },
        )
        stats = await client.call_tool("get_stats", {})
        resource = await client.read_resource(f"taskqueue://projects/{project_id}")
        cancel_done = await client.call_tool("cancel_task", {"task_id": ids[0]})

    assert last.structured_content["status"] == "Completed"  # type: ignore[index]
    assert last.structured_content["result"]["stdout"].strip() == "ship"  # type: ignore[index]
    depths = {n["name"]: n["depth"] for n in graph.structured_content["nodes"]}  # type: ignore[index]
    assert depths == {"lint": -1, "test": 0, "ship": 1}
    names = [t["name"] for t in listed.structured_content["tasks"]]  # type: ignore[index]
    names += [t["name"] for t in following.structured_content["tasks"]]  # type: ignore[index]
    assert names == ["lint", "test", "ship"]
    assert following.structured_content["next_cursor"] is None  # type: ignore[index]
    assert stats.structured_content["tasks_by_status"]["Completed"] == 3  # type: ignore[index]
    body = json.loads(resource.contents[0].text)  # type: ignore[union-attr]
    assert body["project"]["name"] == "mcp"
    assert len(body["tasks"]) == 3
    assert _problem(cancel_done)["status"] == 409


async def test_wrong_or_missing_key_is_refused_with_401(server: ServerProcess) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        wrong = await http.post(
            "/mcp", json=body, headers={**headers, "Authorization": "Bearer tq_wrong"}
        )
        missing = await http.post("/mcp", json=body, headers=headers)
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    assert "unknown or revoked" in wrong.json()["detail"]
    assert missing.status_code == 401
    assert "missing API key" in missing.json()["detail"]


async def test_bad_arguments_are_tool_errors_naming_the_field(
    server: ServerProcess, api_key: str
) -> None:
    async with mcp_client(server.url, {"Authorization": f"Bearer {api_key}"}) as client:
        no_name = await client.call_tool("create_task", {"task": {"command": "true"}})
        unknown_dep = await client.call_tool(
            "create_task",
            {
                "task": {
                    "name": "orphan",
                    "command": "true",
                    "dependencies": ["00000000-0000-0000-0000-000000000000"],
                }
            },
        )
        bad_limit = await client.call_tool("list_tasks", {"limit": 0})
        listed = await client.call_tool("list_tasks", {"filters": {"status": "Pending"}})
        with pytest.raises(MCPError) as no_task:
            await client.read_resource("taskqueue://tasks/00000000-0000-0000-0000-000000000000")

    assert no_name.is_error
    assert "task.name" in no_name.content[0].text  # type: ignore[union-attr]
    dep = _problem(unknown_dep)
    assert dep["status"] in (404, 422), dep
    assert "00000000-0000-0000-0000-000000000000" in json.dumps(dep)
    limit = _problem(bad_limit)
    assert (limit["status"], limit["errors"][0]["loc"]) == (422, ["query", "limit"])
    names = [t["name"] for t in listed.structured_content["tasks"]]  # type: ignore[index]
    assert "orphan" not in names
    assert no_task.value.error.code == -32602  # invalid params: no such resource
    assert json.loads(no_task.value.error.message)["status"] == 404


async def test_the_app_serves_mcp_again_after_a_restart_of_its_lifespan(sqlite_url: str) -> None:
    app = create_server_app(ServerSettings.load(database_url=sqlite_url))
    seen: list[int] = []
    for _ in range(2):
        async with app.router.lifespan_context(app):
            key = (await app.state.runtime.api_keys.create("tests")).key
            transport = httpx2.ASGITransport(app=app)
            async with (
                httpx2.AsyncClient(
                    transport=transport, base_url="http://tq", headers={"X-API-Key": key}
                ) as http,
                Client(streamable_http_client("http://tq/mcp", http_client=http)) as client,
            ):
                made = await client.call_tool(
                    "create_task", {"task": {"name": "again", "command": "true"}}
                )
                stats = await client.call_tool("get_stats", {})
            assert not made.is_error, made.content
            seen.append(stats.structured_content["tasks_total"])  # type: ignore[index]
    assert seen == [1, 2]


async def _key_with_role(server: ServerProcess, role: Role) -> str:
    engine = create_engine(server.env["TASKQUEUE_DATABASE_URL"])
    try:
        store = ApiKeyStore(session_factory(engine))
        return (await store.create(f"mcp-{role}", role=role)).key
    finally:
        await engine.dispose()


async def test_a_reader_key_sees_and_calls_only_the_read_only_tools(
    server: ServerProcess, api_key: str
) -> None:
    reader = await _key_with_role(server, Role.READER)
    producer = await _key_with_role(server, Role.PRODUCER)
    async with mcp_client(server.url, {"Authorization": f"Bearer {producer}"}) as client:
        producer_tools = {tool.name for tool in (await client.list_tools()).tools}
        made = await client.call_tool(
            "create_task", {"task": {"name": "seen-by-reader", "command": "true"}}
        )
    task_id = made.structured_content["id"]  # type: ignore[index]
    async with mcp_client(server.url, {"X-API-Key": reader}) as client:
        reader_tools = {tool.name for tool in (await client.list_tools()).tools}
        create = await client.call_tool("create_task", {"task": {"name": "x", "command": "true"}})
        cancel = await client.call_tool("cancel_task", {"task_id": task_id})
        retry = await client.call_tool("retry_task", {"task_id": task_id})
        got = await client.call_tool("get_task", {"task_id": task_id})

    assert producer_tools == {
        "create_task",
        "get_task",
        "list_tasks",
        "cancel_task",
        "retry_task",
        "get_stats",
        "task_graph",
    }
    assert reader_tools == {"get_task", "list_tasks", "get_stats", "task_graph"}
    for refused, name in ((create, "create_task"), (cancel, "cancel_task"), (retry, "retry_task")):
        assert refused.is_error
        text = refused.content[0].text  # type: ignore[union-attr]
        assert text.startswith(f"{name} changes the queue"), text
        assert "admin, producer" in text
    assert not got.is_error, got.content
    assert got.structured_content["status"] == "Pending"  # type: ignore[index]


async def test_a_worker_key_is_refused_with_403_naming_its_role(server: ServerProcess) -> None:
    worker = await _key_with_role(server, Role.WORKER)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "X-API-Key": worker}
    async with httpx.AsyncClient(base_url=server.url) as http:
        refused = await http.post("/mcp", json=body, headers=headers)
    assert refused.status_code == 403
    detail = refused.json()["detail"]
    assert "role is worker" in detail
    assert "admin, producer, reader" in detail


async def test_a_cancelled_task_is_retried_and_a_pending_one_is_refused(
    server: ServerProcess, api_key: str
) -> None:
    async with mcp_client(server.url, {"Authorization": f"Bearer {api_key}"}) as client:
        made = await client.call_tool("create_task", {"task": {"name": "again", "command": "true"}})
        task_id = made.structured_content["id"]  # type: ignore[index]
        cancelled = await client.call_tool("cancel_task", {"task_id": task_id})
        retried = await client.call_tool("retry_task", {"task_id": task_id})
        twice = await client.call_tool("retry_task", {"task_id": task_id})
        unknown = await client.call_tool(
            "retry_task", {"task_id": "00000000-0000-0000-0000-000000000000"}
        )
        not_an_id = await client.call_tool("retry_task", {"task_id": "seven"})

    assert cancelled.structured_content["status"] == "Cancelled"  # type: ignore[index]
    assert not retried.is_error, retried.content
    assert retried.structured_content["status"] == "Pending"  # type: ignore[index]
    assert retried.structured_content["attempts"] == 0  # type: ignore[index]
    refused = _problem(twice)
    assert refused["status"] == 409
    assert "Failed or Cancelled" in refused["detail"]
    assert _problem(unknown)["status"] == 404
    assert not_an_id.is_error
    assert "task_id" in not_an_id.content[0].text  # type: ignore[union-attr]


def test_creating_the_app_leaves_mcp_unimported_until_its_first_request(sqlite_url: str) -> None:
    # About 40% of the app's import time is the mcp package; a process that never serves MCP
    # (most servers, every test server) should not pay for it.
    code = (
        "import sys\n"
        "from taskqueue_server.app import create_server_app\n"
        "from taskqueue_server.settings import ServerSettings\n"
        f"create_server_app(ServerSettings.load(database_url={sqlite_url!r}))\n"
        "loaded = sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
