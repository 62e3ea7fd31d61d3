"""``make run`` on embedded defaults: the stack used as a newcomer would, then restarted."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from platform_core.testing.services import free_port
from taskqueue import TaskQueueClient, TaskStatus

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]


def test_stack_runs_both_flows_and_keeps_its_data_across_a_restart(
    tmp_path: Path,
    stack_factory: Any,
    receiver: Any,
    drafts_for: Any,
    task_flow: Any,
    make_thread: Any,
) -> None:
    data = tmp_path / "data"
    stack = stack_factory(data)
    banner = "\n".join(stack.output_lines())
    assert "embedded mode" in banner
    assert stack.taskqueue_key in banner  # the dev key is printed for the newcomer
    assert f"{stack.drafts_url}/send-messages/" in banner

    task_ids = task_flow(stack, receiver)
    drafts = drafts_for(stack)
    rejected = drafts.full_flow("ana")
    kept_job = drafts.accepted("/send-messages/", make_thread("ana", "dinner", ("d1", "Pizza?")))
    kept = drafts.job_done(kept_job)["draft_message_id"]
    key = stack.taskqueue_key
    stack.stop()
    assert any("worker stopped" in line for line in stack.output_lines())
    assert (data / "taskqueue.db").exists()
    assert (data / "drafts.db").exists()

    # The same ports again: Ctrl-C released them, so nothing of the first run is left over.
    again = stack_factory(data, ports=(stack.taskqueue_port, stack.drafts_port))
    assert again.taskqueue_key == key  # the same key file, still accepted by the API
    with TaskQueueClient(again.taskqueue_url, api_key=again.taskqueue_key) as client:
        for task_id in task_ids:
            assert client.get_task(task_id).status == TaskStatus.COMPLETED
        assert [w.url for w in client.list_webhooks()] == [receiver.url]
    drafts = drafts_for(again)
    assert [d["draft_message_id"] for d in drafts.listed("ana")] == [kept]
    assert drafts.detail("ana", rejected)["status"] == "rejected"
    again.stop()


def test_a_port_in_use_is_a_clear_error_naming_the_setting(tmp_path: Path, kit: Any) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = kit.clean_env(
            STACK_DATA_DIR=str(tmp_path), TASKQUEUE_PORT=str(free_port()), DRAFTS_PORT=str(port)
        )
        done = subprocess.run(
            [sys.executable, str(kit.LAUNCHER)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"port {port} is already in use" in done.stderr
    assert f"set DRAFTS_PORT to another port (e.g. DRAFTS_PORT={port + 1} make run)" in done.stderr
