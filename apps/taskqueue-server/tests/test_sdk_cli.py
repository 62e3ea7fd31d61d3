"""The SDK's `taskqueue` CLI against the real server: every command that talks to it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner

from platform_core.testing.services import free_port
from taskqueue.cli import cli as taskqueue_cli
from taskqueue.webhooks import generate_secret

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
    assert _cli(server, api_key, "tasks", "retry", task["id"])["status"] == "Pending"
    _cli(server, api_key, "tasks", "retry", task["id"], code=1)  # 409: not Failed/Cancelled
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


def test_keys_commands_create_a_reader_list_and_revoke_it(
    server: ServerProcess, api_key: str
) -> None:
    made = _cli(server, api_key, "keys", "create", "dashboard", "--role", "reader")
    reader = made["key"]
    listed = {k["id"]: k for k in _cli(server, api_key, "keys", "list")}
    # the new key belongs to its creator's tenant (the only tenant this admin sees)
    assert (made["role"], {k["tenant"] for k in listed.values()}) == ("reader", {made["tenant"]})
    assert len(listed) == 2
    assert listed[made["id"]]["key"] is None  # a list never shows a secret
    assert isinstance(_cli(server, reader, "tasks", "list"), list)
    _cli(server, reader, "tasks", "create", "--name", "x", "--command", "true", code=1)  # 403
    _cli(server, reader, "keys", "list", code=1)  # only admins manage keys
    _cli(server, api_key, "keys", "revoke", made["id"])
    _cli(server, reader, "tasks", "list", code=1)  # 401 from now on
    result = CliRunner().invoke(
        taskqueue_cli, ["--base-url", server.url, "--api-key", api_key, "keys", "create", "x",
                        "--role", "owner"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "'owner' is not one of" in result.output


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the listener exited: {proc.communicate()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the listener did not start")


def test_webhooks_listen_verifies_and_prints_what_the_server_delivers(
    server: ServerProcess, api_key: str
) -> None:
    secret, port = generate_secret(), free_port()
    listen = ["--json", "webhooks", "listen", "--port", str(port)]
    listener = subprocess.Popen(
        [sys.executable, "-m", "taskqueue.cli", *listen],
        env={**os.environ, "TASKQUEUE_WEBHOOK_SECRET": secret},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/webhooks"
    hooks: list[str] = []
    try:
        _wait_for_port(port, listener)
        for signing_secret in (secret, generate_secret()):  # the second one is not the listener's
            hook = _cli(
                server, api_key, "webhooks", "create", "--url", url, "--event", "task.created",
                "--secret", signing_secret,
            )  # fmt: skip
            hooks.append(hook["id"])
        task = _cli(server, api_key, "tasks", "create", "--name", "heard", "--command", "true")
        attempts: dict[str, list[int]] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for hook_id in hooks:
                deliveries = _cli(server, api_key, "webhooks", "deliveries", hook_id)
                attempts[hook_id] = [a["status_code"] for d in deliveries for a in d["attempt_log"]]
            if all(attempts.values()):
                break
            time.sleep(0.1)
    finally:
        for hook_id in hooks:
            _cli(server, api_key, "webhooks", "delete", hook_id)
        listener.send_signal(signal.SIGTERM)
        out, err = listener.communicate(timeout=20)
    assert attempts[hooks[0]] == [200]
    assert attempts[hooks[1]][0] == 400  # signed with another secret: refused, not printed
    printed = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert [(e["type"], e["data"]["id"], e["data"]["name"]) for e in printed] == [
        ("task.created", task["id"], "heard")
    ]
    assert "listening on" in err.decode()
