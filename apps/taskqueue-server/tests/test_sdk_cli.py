"""The SDK's `taskqueue` CLI against the real server: every command that talks to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner

from taskqueue.cli import cli as taskqueue_cli

if TYPE_CHECKING:
    from conftest import ServerProcess


def _cli(server: ServerProcess, key: str, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(
        taskqueue_cli, ["--base-url", server.url, "--api-key", key, "--json", *args]
    )
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_projects_tasks_and_webhooks_commands(
    server: ServerProcess, api_key: str, tmp_path: Path
) -> None:
    project = _cli(server, api_key, "projects", "create", "--name", "cli", "--tag", "x")
    assert _cli(server, api_key, "projects", "get", project["id"])["name"] == "cli"
    renamed = _cli(server, api_key, "projects", "update", project["id"], "--name", "cli2")
    assert renamed["name"] == "cli2"
    assert any(p["id"] == project["id"] for p in _cli(server, api_key, "projects", "list"))

    task = _cli(
        server, api_key, "tasks", "create", "--name", "c", "--command", "true",
        "--project-id", project["id"],
    )  # fmt: skip
    assert _cli(server, api_key, "tasks", "get", task["id"])["status"] == "Pending"
    updated = _cli(server, api_key, "tasks", "update", task["id"], "--priority", "High")
    assert updated["priority"] == "High"
    listed = _cli(server, api_key, "tasks", "list", "--project-id", project["id"])
    assert [t["id"] for t in listed] == [task["id"]]
    batch_file = tmp_path / "batch.json"
    batch_file.write_text(json.dumps([{"name": "b1", "command": "true"}]))
    batch = _cli(server, api_key, "tasks", "batch", str(batch_file))
    assert batch is not None
    assert _cli(server, api_key, "tasks", "cancel", task["id"])["status"] == "Cancelled"
    waited = _cli(server, api_key, "tasks", "wait", task["id"], "--timeout", "10", code=1)
    assert waited["status"] == "Cancelled"  # exit 1: it ended, but not Completed
    _cli(server, api_key, "tasks", "delete", task["id"], "--yes")
    _cli(server, api_key, "tasks", "get", task["id"], code=1)
    _cli(server, api_key, "projects", "delete", project["id"], "--yes")

    hook = _cli(
        server, api_key, "webhooks", "create", "--url", "http://127.0.0.1:9/hook",
        "--event", "task.created",
    )  # fmt: skip
    assert hook["secret"].startswith("whsec_")
    assert any(h["id"] == hook["id"] for h in _cli(server, api_key, "webhooks", "list"))
    _cli(server, api_key, "webhooks", "deliveries", hook["id"])
    _cli(server, api_key, "webhooks", "delete", hook["id"])
