"""The worker process: graceful SIGTERM, grace period expiry, cancellation via heartbeat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tq_fake_server import FakeServer

from taskqueue import TaskQueueClient, TaskStatus


def _start_worker(server: FakeServer, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TASKQUEUE_BASE_URL": server.url}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskqueue.cli",
            "worker",
            "--claim-wait",
            "0",
            "--lease",
            "3",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def _until(predicate: object, what: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def _status(server: FakeServer, task_id: str) -> TaskStatus:
    return server.state.tasks[task_id].status


def test_sigterm_lets_the_running_task_finish(server: FakeServer, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    with TaskQueueClient() as client:
        task = client.create_task(name="t", command=f"touch {marker}; sleep 1; echo done")
    proc = _start_worker(server)
    try:
        _until(marker.exists, "the command to start")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 0, stderr.decode()
    finally:
        _reap(proc)
    finished = server.state.tasks[str(task.id)]
    assert finished.status is TaskStatus.COMPLETED
    assert finished.result is not None
    assert finished.result.stdout == "done\n"


def test_after_the_grace_period_the_task_is_handed_back(server: FakeServer, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    with TaskQueueClient() as client:
        task = client.create_task(name="t", command=f"touch {marker}; sleep 30")
    proc = _start_worker(server, "--shutdown-timeout", "0.2")
    try:
        _until(marker.exists, "the command to start")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 0, stderr.decode()
    finally:
        _reap(proc)
    assert _status(server, str(task.id)) is TaskStatus.PENDING
    assert server.requests_to("POST", r"/api/tasks/.+/fail")


def test_cancelling_a_running_task_stops_its_command(server: FakeServer, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    after = tmp_path / "after"
    with TaskQueueClient() as client:
        task = client.create_task(name="t", command=f"touch {marker}; sleep 30; touch {after}")
        proc = _start_worker(server, "--lease", "1", "--exit-when-idle")
        try:
            _until(marker.exists, "the command to start")
            client.cancel_task(task.id)
            _, stderr = proc.communicate(timeout=20)
            assert proc.returncode == 0, stderr.decode()
        finally:
            _reap(proc)
    assert _status(server, str(task.id)) is TaskStatus.CANCELLED
    assert not after.exists()
    assert not server.requests_to("POST", r"/api/tasks/.+/(complete|fail)")
