"""``draft-service mcp`` over stdio, driven by the mcp SDK's own client, against a real
``draft-service serve`` process whose LLM is the local OpenAI-compatible stub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from draft_llm_stub import OpenAIStub
from draft_test_helpers import thread
from mcp import Client, StdioServerParameters

from platform_core.testing.services import free_port

KEY = "mcp-stdio-service-key"


@dataclass
class Api:
    """A ``draft-service serve`` process and the stub LLM it calls."""

    url: str
    llm: OpenAIStub


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAFTS_")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A real API process on SQLite, drafting with the stub (starting one costs seconds, so
    the module's tests share it; each uses its own user)."""
    llm = OpenAIStub().start()
    port = free_port()
    tmp_path = tmp_path_factory.mktemp("draft-mcp-stdio")
    env = _env(
        DRAFTS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'drafts.db'}",
        DRAFTS_API_KEY=KEY,
        DRAFTS_LLM_PROVIDER="openai",
        DRAFTS_LLM_API_KEY="stub",
        DRAFTS_LLM_BASE_URL=llm.base_url,
        DRAFTS_LLM_MODEL="stub/model-1",
        DRAFTS_LOG_LEVEL="WARNING",
    )
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "draft_service", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded machine starts it slowly
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "draft-service serve did not become ready"
            try:
                with urllib.request.urlopen(f"{url}/health/live", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        yield Api(url, llm)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        llm.stop()


@asynccontextmanager
async def stdio_client(api: Api, key: str, *args: str) -> AsyncIterator[Client]:
    """The mcp SDK's client on a ``draft-service mcp`` subprocess configured by the
    environment."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "draft_service", "mcp", *args],
        env=_env(DRAFTS_API_URL=api.url, DRAFTS_API_KEY=key),
    )
    async with Client(params, read_timeout_seconds=120) as client:
        yield client


def _problem(result: Any) -> dict[str, Any]:
    assert result.is_error, result
    problem: dict[str, Any] = json.loads(result.content[0].text)
    return problem


async def test_tools_are_listed_with_input_and_output_schemas_and_marked(api: Api) -> None:
    async with stdio_client(api, KEY) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        listed = await client.list_resource_templates()
        templates = {t.uri_template for t in listed.resource_templates}

    assert set(tools) == {
        "send_thread",
        "get_draft",
        "list_drafts",
        "get_job",
        "give_feedback",
        "reject_draft",
        "retry_job",
    }
    send = tools["send_thread"]
    thread_schema = send.input_schema["$defs"]["SendMessagesRequest"]
    assert set(thread_schema["required"]) == {"user_id", "thread_name", "messages"}
    assert send.output_schema is not None
    assert set(send.output_schema["properties"]) == {"job", "draft"}
    assert "revisions" in tools["get_draft"].output_schema["properties"]  # type: ignore[index]
    assert "draft_messages" in tools["list_drafts"].output_schema["properties"]  # type: ignore[index]
    for name in ("get_draft", "list_drafts", "get_job"):
        assert tools[name].annotations.read_only_hint is True  # type: ignore[union-attr]
    for name in ("send_thread", "give_feedback", "retry_job", "reject_draft"):
        assert tools[name].annotations.read_only_hint is False  # type: ignore[union-attr]
    assert tools["reject_draft"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert templates == {
        "drafts://users/{user_id}/drafts/{draft_message_id}",
        "drafts://users/{user_id}/threads/{thread_name}",
    }


async def test_a_thread_is_drafted_with_progress_then_revised_and_rejected(api: Api) -> None:
    notes: list[tuple[float, str | None]] = []
    # The model stalls after its first chunk until a progress notification has arrived: the
    # call only finishes if notifications are sent while the draft is written, not after.
    api.llm.script.stall = threading.Event()

    async def progress(value: float, total: float | None, message: str | None) -> None:
        notes.append((value, message))
        api.llm.script.stall.set()  # type: ignore[union-attr]

    body = thread("stdio-ann", "Dinner", ("m1", "Bob", "Are we still on for dinner at eight?"))
    try:
        async with stdio_client(api, KEY) as client:
            sent = await client.call_tool(
                "send_thread", {"thread": body}, progress_callback=progress
            )
            assert not sent.is_error, sent.content
            outcome = sent.structured_content
            assert outcome is not None
            draft_id = outcome["draft"]["draft_message_id"]
            revised = await client.call_tool(
                "give_feedback",
                {"user_id": "stdio-ann", "draft_message_id": draft_id, "feedback": "shorter"},
            )
            listed = await client.call_tool("list_drafts", {"user_id": "stdio-ann"})
            new_id = revised.structured_content["draft"]["draft_message_id"]  # type: ignore[index]
            lineage = await client.read_resource(f"drafts://users/stdio-ann/drafts/{new_id}")
            in_thread = await client.read_resource("drafts://users/stdio-ann/threads/Dinner")
            rejected = await client.call_tool(
                "reject_draft", {"user_id": "stdio-ann", "draft_message_id": new_id}
            )
            after = await client.call_tool("list_drafts", {"user_id": "stdio-ann"})
    finally:
        api.llm.script.stall = None

    assert outcome["job"]["status"] == "done"
    assert outcome["draft"]["draft_message_content"].startswith("Draft ")
    assert outcome["draft"]["thread_name"] == "Dinner"
    messages = [m for _, m in notes]
    assert "job running" in messages, messages
    assert "job done" in messages, messages
    assert any(m and m.startswith("drafting: ") for m in messages), messages
    assert [v for v, _ in notes] == sorted(v for v, _ in notes)
    assert not revised.is_error, revised.content
    assert "revised per 'shorter'" in revised.structured_content["draft"]["draft_message_content"]  # type: ignore[index]
    assert [d["draft_message_id"] for d in listed.structured_content["draft_messages"]] == [new_id]  # type: ignore[index]
    revisions = json.loads(lineage.contents[0].text)["revisions"]  # type: ignore[union-attr]
    assert [r["feedback"] for r in revisions] == [None, "shorter"]
    thread_body = json.loads(in_thread.contents[0].text)  # type: ignore[union-attr]
    assert [d["draft_message_id"] for d in thread_body["drafts"]] == [new_id]
    assert rejected.structured_content == {"message": "Draft rejected"}
    assert after.structured_content == {"draft_messages": []}


async def test_read_only_flag_leaves_out_the_mutating_tools_and_refuses_them(api: Api) -> None:
    body = thread("stdio-ro", "T", ("m1", "Bob", "Hello?"))
    async with stdio_client(api, KEY, "--read-only") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        refused = await client.call_tool("send_thread", {"thread": body})
        listed = await client.call_tool("list_drafts", {"user_id": "stdio-ro"})
    assert names == {"get_draft", "list_drafts", "get_job"}
    assert refused.is_error
    text = refused.content[0].text  # type: ignore[union-attr]
    assert text.startswith("send_thread changes drafts"), text
    assert listed.structured_content == {"draft_messages": []}


async def test_wrong_key_is_a_tool_error_carrying_the_api_problem(api: Api) -> None:
    async with stdio_client(api, "not-the-key") as client:
        result = await client.call_tool("list_drafts", {"user_id": "someone"})
    problem = _problem(result)
    assert problem["status"] == 401
    assert "DRAFTS_API_KEY" in problem["detail"]


async def test_bad_arguments_are_tool_errors_naming_the_field(api: Api) -> None:
    bad_date = thread("stdio-bad", "T", ("m1", "Bob", "Hi"))
    bad_date["messages"][0]["date"] = "01/05/2024"
    async with stdio_client(api, KEY) as client:
        schema_miss = await client.call_tool("send_thread", {"thread": {"user_id": "u"}})
        api_refusal = await client.call_tool("send_thread", {"thread": bad_date})
        unknown = await client.call_tool(
            "get_draft", {"user_id": "stdio-bad", "draft_message_id": "nope"}
        )
        empty_feedback = await client.call_tool(
            "give_feedback", {"user_id": "u", "draft_message_id": "d", "feedback": ""}
        )
    assert schema_miss.is_error
    text = schema_miss.content[0].text  # type: ignore[union-attr]
    assert "thread.thread_name" in text, text
    assert "thread.messages" in text, text
    assert api_refusal.is_error
    assert "thread.messages.0.date" in api_refusal.content[0].text  # type: ignore[union-attr]
    assert _problem(unknown)["status"] == 404
    assert empty_feedback.is_error
    assert "feedback" in empty_feedback.content[0].text  # type: ignore[union-attr]


_BLOCK_MCP = "import sys; sys.modules['mcp'] = None; "


def test_import_draft_service_does_not_need_mcp_and_the_missing_extra_is_named() -> None:
    def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _BLOCK_MCP + code, *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=_env(),
        )

    plain = run("import draft_service, draft_service.cli; print('ok')")
    missing = run("import draft_service.mcp")
    command = run("from draft_service.cli import main; main()", "mcp")
    assert (plain.returncode, plain.stdout.strip()) == (0, "ok"), plain.stderr
    assert missing.returncode == 1
    assert "pip install 'draft-service[mcp]'" in missing.stderr
    assert command.returncode == 1
    assert "pip install 'draft-service[mcp]'" in command.stderr
