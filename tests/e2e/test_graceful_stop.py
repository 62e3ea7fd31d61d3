"""Ctrl-C on ``make run`` while the worker is busy: a quick, quiet stop that leaves no task
Running, and the task runs again at once after a restart."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from taskqueue import TaskQueueClient, TaskStatus

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]


def test_ctrl_c_with_a_busy_worker_stops_in_seconds_and_hands_the_task_back(
    tmp_path: Path, stack_factory: Any
) -> None:
    data = tmp_path / "data"
    started = tmp_path / "started"
    # First run: blocks for a minute. Second run (after the restart): finishes at once.
    command = f"if [ -e {started} ]; then echo again; else touch {started}; sleep 60; fi"
    stack = stack_factory(data)
    with TaskQueueClient(stack.taskqueue_url, api_key=stack.taskqueue_key) as client:
        task = client.create_task(name="busy", command=command)
        stack.eventually(started.exists, 30, "the worker to start the command")
        assert client.get_task(task.id).status is TaskStatus.RUNNING

    began = time.monotonic()
    stack.stop()  # SIGINT, as Ctrl-C in the terminal; asserts exit code 0
    took = time.monotonic() - began
    output = "\n".join(stack.output_lines())
    print(f"\nthe stack stopped {took:.2f} s after Ctrl-C")
    assert took < 5, f"the stack took {took:.1f}s to stop"
    assert "Traceback" not in output
    assert "did not stop within" not in output
    with sqlite3.connect(data / "taskqueue.db") as db:
        rows = db.execute("SELECT status, attempts FROM tasks").fetchall()
    assert rows == [("Pending", 0)]  # handed back, and the interrupted run not counted

    again = stack_factory(data, ports=(stack.taskqueue_port, stack.drafts_port))
    with TaskQueueClient(again.taskqueue_url, api_key=again.taskqueue_key) as client:
        # Picked up by the new worker at once, not after the old lease (60 s) ran out.
        done = client.wait_for_completion(task.id, timeout=20)
    assert done.status is TaskStatus.COMPLETED
    assert done.result is not None
    assert done.result.stdout == "again\n"
    assert done.attempts == 1
    again.stop()
