"""The MCP server mounted at ``/mcp`` (Streamable HTTP) on a real ``draft-api`` process, driven
by the mcp SDK's own client; the LLM is the local OpenAI-compatible stub of draft-service's
tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from platform_core.testing import free_port

sys.path.insert(0, str(Path(__file__).parents[3] / "packages" / "draft-service" / "tests"))

from draft_llm_stub import OpenAIStub

KEY = "draft-mcp-http-key"
READ_KEY = "draft-mcp-http-read-only"
_BIN = Path(sys.executable).with_name("draft-api")


@dataclass
class Api:
    """A ``draft-api`` process and the stub LLM it calls."""

    url: str
    llm: OpenAIStub


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One real API process for the module's tests (each uses its own user)."""
    llm = OpenAIStub().start()
    port = free_port()
    tmp_path = tmp_path_factory.mktemp("draft-mcp-http")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTS_", "DRAFT_API_"))}
    env.update(
        DRAFTS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'drafts.db'}",
        DRAFTS_API_KEY=KEY,
        DRAFTS_READ_ONLY_API_KEY=READ_KEY,
        DRAFTS_LLM_PROVIDER="openai",
        DRAFTS_LLM_API_KEY="stub",
        DRAFTS_LLM_BASE_URL=llm.base_url,
        DRAFTS_LLM_MODEL="stub/model-1",
        DRAFTS_LOG_LEVEL="WARNING",
        DRAFT_API_HOST="127.0.0.1",
        DRAFT_API_PORT=str(port),
    )
    log = (tmp_path / "draft-api.log").open("wb")
    proc = subprocess.Popen([str(_BIN)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded machine starts it slowly
        while True:
            try:
                if httpx.get(f"{url}/health/live").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "draft-api.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "draft-api did not start"
            time.sleep(0.1)
        yield Api(url, llm)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        llm.stop()


@asynccontextmanager
async def mcp_client(url: str, key: str) -> AsyncIterator[Client]:
    """The mcp SDK's client on ``{url}/mcp`` sending ``key`` as the bearer key."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        yield client


def _thread(user: str, name: str, content: str) -> dict[str, Any]:
    message = {
        "message_id": "m1",
        "sender_name": "Bob",
        "date": "2024-05-01",
        "time": "09:00:00",
        "message_content": content,
    }
    return {"user_id": user, "thread_name": name, "messages": [message]}


def _problem(result: Any) -> dict[str, Any]:
    assert result.is_error, result
    problem: dict[str, Any] = json.loads(result.content[0].text)
    return problem


async def test_a_thread_is_drafted_with_progress_notifications_as_it_is_written(
    api: Api,
) -> None:
    notes: list[tuple[float, str | None]] = []
    # The model stalls after its first chunk until a progress notification has arrived: the
    # call only finishes if notifications stream while the draft is written.
    api.llm.script.stall = threading.Event()

    async def progress(value: float, total: float | None, message: str | None) -> None:
        notes.append((value, message))
        api.llm.script.stall.set()  # type: ignore[union-attr]

    try:
        async with mcp_client(api.url, KEY) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            sent = await client.call_tool(
                "send_thread",
                {"thread": _thread("http-ann", "Lunch", "Lunch at noon tomorrow?")},
                progress_callback=progress,
            )
            assert not sent.is_error, sent.content
            draft_id = sent.structured_content["draft"]["draft_message_id"]  # type: ignore[index]
            got = await client.call_tool(
                "get_draft", {"user_id": "http-ann", "draft_message_id": draft_id}
            )
            job = await client.call_tool(
                "get_job",
                {"user_id": "http-ann", "job_id": sent.structured_content["job"]["job_id"]},  # type: ignore[index]
            )
            lineage = await client.read_resource(f"drafts://users/http-ann/drafts/{draft_id}")
    finally:
        api.llm.script.stall = None

    assert set(tools) == {
        "send_thread",
        "get_draft",
        "list_drafts",
        "get_job",
        "give_feedback",
        "reject_draft",
        "retry_job",
    }
    assert all(tool.output_schema is not None for tool in tools.values())
    assert sent.structured_content["job"]["status"] == "done"  # type: ignore[index]
    messages = [m for _, m in notes]
    assert "job running" in messages, messages
    assert "job done" in messages, messages
    assert any(m and m.startswith("drafting: ") for m in messages), messages
    assert got.structured_content["draft_message_content"].startswith("Draft ")  # type: ignore[index]
    assert job.structured_content["draft_message_id"] == draft_id  # type: ignore[index]
    revisions = json.loads(lineage.contents[0].text)["revisions"]  # type: ignore[union-attr]
    assert len(revisions) == 1


async def test_the_read_only_key_gets_only_the_read_only_tools(api: Api) -> None:
    async with mcp_client(api.url, KEY) as client:
        sent = await client.call_tool(
            "send_thread", {"thread": _thread("http-ro", "T", "Hello there?")}
        )
    draft_id = sent.structured_content["draft"]["draft_message_id"]  # type: ignore[index]
    async with mcp_client(api.url, READ_KEY) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        refused = await client.call_tool(
            "reject_draft", {"user_id": "http-ro", "draft_message_id": draft_id}
        )
        listed = await client.call_tool("list_drafts", {"user_id": "http-ro"})
    assert names == {"get_draft", "list_drafts", "get_job"}
    assert refused.is_error
    text = refused.content[0].text  # type: ignore[union-attr]
    assert text.startswith("reject_draft changes drafts"), text
    assert "DRAFTS_READ_ONLY_API_KEY" in text
    drafts = listed.structured_content["draft_messages"]  # type: ignore[index]
    assert [d["draft_message_id"] for d in drafts] == [draft_id]  # still there


async def test_wrong_or_missing_key_is_refused_with_401(api: Api) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=api.url) as http:
        wrong = await http.post("/mcp", json=body, headers={**headers, "Authorization": "Bearer x"})
        missing = await http.post("/mcp", json=body, headers=headers)
    for refused in (wrong, missing):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "DRAFTS_API_KEY" in refused.json()["detail"]


async def test_bad_arguments_are_tool_errors_naming_the_field(api: Api) -> None:
    bad_time = _thread("http-bad", "T", "Hi")
    bad_time["messages"][0]["time"] = "9am"
    async with mcp_client(api.url, KEY) as client:
        schema_miss = await client.call_tool("send_thread", {"thread": {"user_id": "u"}})
        bad = await client.call_tool("send_thread", {"thread": bad_time})
        closed = await client.call_tool(
            "give_feedback",
            {"user_id": "http-bad", "draft_message_id": "no-such-draft", "feedback": "x"},
        )
        with pytest.raises(MCPError) as no_thread:
            await client.read_resource("drafts://users/http-bad/threads/nothing")
    assert schema_miss.is_error
    assert "thread.thread_name" in schema_miss.content[0].text  # type: ignore[union-attr]
    assert bad.is_error
    assert "thread.messages.0.time" in bad.content[0].text  # type: ignore[union-attr]
    assert _problem(closed)["status"] == 404
    assert json.loads(no_thread.value.error.message)["status"] == 404
