"""The ``taskqueue`` CLI through click's runner against the fake server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from tq_fake_server import FakeServer

from taskqueue.cli import cli
from taskqueue.models import TaskStatus


def _run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    code, out, _ = _run("version")
    assert (code, out.strip()) == (0, "taskqueue-sdk 0.1.0")
    assert json.loads(_run("--json", "version")[1]) == {"version": "0.1.0"}


def test_create_get_list_update_cancel_delete(server: FakeServer) -> None:
    code, out, _ = _run("tasks", "create", "--name", "build", "--command", "make",
                        "--priority", "High", "--env", "A=1", "--json")  # fmt: skip
    assert code == 0
    created = json.loads(out)
    assert created["priority"] == "High"
    assert created["environment"] == {"A": "1"}
    task_id = created["id"]

    code, out, _ = _run("tasks", "get", task_id)
    assert code == 0
    assert "build" in out
    assert "High" in out

    code, out, _ = _run("--json", "tasks", "list")
    assert [t["id"] for t in json.loads(out)] == [task_id]

    code, out, _ = _run("tasks", "update", task_id, "--priority", "Low", "--json")
    assert json.loads(out)["priority"] == "Low"

    code, out, _ = _run("tasks", "cancel", task_id, "--json")
    assert json.loads(out)["status"] == "Cancelled"

    code, _, err = _run("tasks", "cancel", task_id)
    assert code == 1
    assert "[409]" in err

    assert _run("tasks", "delete", task_id, "--yes")[0] == 0
    code, _, err = _run("tasks", "get", task_id)
    assert code == 1
    assert "[404]" in err


def test_usage_errors_exit_2(server: FakeServer) -> None:
    assert _run("tasks", "create", "--name", "x")[0] == 2
    assert _run("tasks", "create", "--name", "x", "--command", "y", "--priority", "Urgent")[0] == 2
    assert _run("tasks", "update", "00000000-0000-0000-0000-000000000000")[0] == 2


def test_invalid_field_is_named_and_exits_1(server: FakeServer) -> None:
    code, _, err = _run("tasks", "create", "--name", "x", "--command", "y", "--timeout", "0")
    assert code == 1
    assert "timeout" in err
    assert server.state.requests == []


def test_interactive_create_asks_for_each_field(server: FakeServer) -> None:
    answers = "deploy\n./deploy.sh\nship it\nCritical\nSimple\n60\n"
    code, out, _ = _run("tasks", "create", "--interactive", "--json", input=answers)
    assert code == 0, out
    created = json.loads(out[out.index("{") :])
    assert (created["name"], created["command"], created["priority"], created["timeout"]) == (
        "deploy", "./deploy.sh", "Critical", 60,
    )  # fmt: skip


def test_wait_exits_0_when_completed(server: FakeServer) -> None:
    code, out, _ = _run("--json", "tasks", "create", "--name", "w", "--command", "true")
    task_id = json.loads(out)["id"]
    server.state.tasks[task_id] = server.state.tasks[task_id].model_copy(
        update={"metadata": {"complete_after_gets": 2}}
    )
    code, out, _ = _run("--json", "tasks", "wait", task_id, "--poll-interval", "0.01")
    assert code == 0
    assert json.loads(out)["status"] == "Completed"


def test_batch_file_reports_each_item_and_exits_1_on_failures(
    server: FakeServer, tmp_path: Path
) -> None:
    items = [{"name": f"t{i}", "command": "true"} for i in range(150)]
    items[120]["name"] = "reject-this"
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(items))
    code, out, _ = _run("--json", "tasks", "batch", str(path))
    assert code == 1
    results = json.loads(out)["results"]
    assert [r["index"] for r in results if not r["ok"]] == [120]
    assert len(server.state.tasks) == 149


def test_batch_jsonl_validates_before_sending(server: FakeServer, tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text('{"name": "a", "command": "true"}\n{"name": "", "command": "true"}\n')
    code, _, err = _run("tasks", "batch", str(path))
    assert code == 1
    assert "tasks.1.name" in err
    assert server.state.tasks == {}


def test_projects_and_webhooks(server: FakeServer) -> None:
    code, out, _ = _run("--json", "projects", "create", "--name", "p", "--tag", "x")
    project = json.loads(out)
    assert project["tags"] == ["x"]
    code, out, _ = _run("projects", "update", project["id"], "--status", "OnHold", "--json")
    assert json.loads(out)["status"] == "OnHold"
    assert "p" in _run("projects", "list")[1]
    code, out, _ = _run("--json", "projects", "get", project["id"])
    assert json.loads(out)["status"] == "OnHold"
    assert _run("projects", "delete", project["id"], "--yes")[0] == 0

    code, out, _ = _run("webhooks", "create", "--url", "https://example.test/h",
                        "--event", "task.completed")  # fmt: skip
    assert code == 0
    assert "whsec_" in out
    (hook,) = json.loads(_run("--json", "webhooks", "list")[1])
    assert json.loads(_run("--json", "webhooks", "deliveries", hook["id"])[1]) == []
    assert _run("webhooks", "delete", hook["id"])[0] == 0


def test_worker_runs_commands_with_env_workdir_and_retries(
    server: FakeServer, tmp_path: Path
) -> None:
    ok = _create(["--name", "ok", "--command", 'echo "$GREETING from $(pwd)"',
                  "--env", "GREETING=hello", "--workdir", str(tmp_path)])  # fmt: skip
    flaky = _create(["--name", "bad", "--command", "echo oops >&2; exit 3",
                     "--retries", "1", "--retry-delay", "0"])  # fmt: skip
    slow = _create(["--name", "slow", "--command", "sleep 5", "--timeout", "1",
                    "--retries", "0"])  # fmt: skip
    code, _, _ = _run("worker", "--exit-when-idle", "--concurrency", "3")
    assert code == 0
    tasks = server.state.tasks
    assert tasks[ok].status is TaskStatus.COMPLETED
    assert tasks[ok].result is not None
    assert tasks[ok].result.stdout == f"hello from {tmp_path}\n"
    assert tasks[flaky].status is TaskStatus.FAILED
    assert tasks[flaky].attempts == 2
    assert tasks[flaky].result is not None
    assert (tasks[flaky].result.exit_code, tasks[flaky].result.stderr) == (3, "oops\n")
    assert tasks[slow].status is TaskStatus.FAILED
    assert tasks[slow].result is not None
    assert tasks[slow].result.error == "timed out after 1 s"


def test_a_worker_run_in_process_leaves_subprocesses_working(server: FakeServer) -> None:
    """On Python 3.11 the worker watches its commands through a process-wide pidfd child
    watcher bound to its loop; it is put back when that loop ends, so a later loop in the same
    process can still start subprocesses."""
    code, _, _ = _run("worker", "--exit-when-idle")
    assert code == 0

    async def spawn() -> int:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        return await proc.wait()

    # A loop that is never made the current one (as Playwright's sync API runs its own), so
    # the policy does not re-attach a leftover watcher to it.
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(spawn()) == 0
    finally:
        loop.close()


def _create(args: list[str]) -> str:
    code, out, err = _run("--json", "tasks", "create", *args)
    assert code == 0, err
    return str(json.loads(out)["id"])


def test_worker_refreshes_its_heartbeat_and_keeps_idle_polls_out_of_the_log(
    server: FakeServer, tmp_path: Path
) -> None:
    beat = tmp_path / "worker.alive"
    env = {**os.environ, "TASKQUEUE_BASE_URL": server.url, "PLATFORM_HEARTBEAT_FILE": str(beat)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskqueue.cli", "worker", "--claim-wait", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(beat.exists, proc, "the worker never wrote its heartbeat file")
        time.sleep(1)  # past the touches made at start: the next one comes from the loop
        os.utime(beat, (0, 0))  # looks long dead; a live worker touches it again
        _wait_for(lambda: beat.stat().st_mtime > 0, proc, "the heartbeat was not refreshed")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert "taskqueue.worker.started" in stderr
    assert "HTTP Request" not in stderr  # ~100 idle claims, none logged at INFO


def test_worker_verbose_logs_each_request(server: FakeServer) -> None:
    code, _, stderr = _run("worker", "--exit-when-idle", "--verbose")
    assert code == 0
    assert "HTTP Request: POST" in stderr


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 30  # the heartbeat interval is 5 s
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            raise AssertionError(f"worker exited: {proc.communicate()[1]}")
        time.sleep(0.1)
    raise AssertionError(what)


def test_tables_keep_ids_whole_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import uuid as uuid_mod

    from rich.console import Console

    from taskqueue.cli import _common

    buffer = io.StringIO()
    monkeypatch.setattr(_common, "out", Console(file=buffer, width=80, soft_wrap=True))
    ids = [str(uuid_mod.uuid4()) for _ in range(3)]
    rows = [(i, "a rather long task name " * 3, "Running", "Critical", "Workflow") for i in ids]
    _common.table("tasks", ["id", "name", "status", "priority", "type"], rows)
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    for task_id in ids:
        assert task_id in text, f"{task_id} was split:\n{text}"
