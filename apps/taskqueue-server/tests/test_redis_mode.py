"""Redis mode: the API and the delivery worker as separate processes; the shared limiter."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taskqueue import AsyncTaskQueueClient

if TYPE_CHECKING:
    from conftest import Receiver, ServerProcess


def _start_deliver(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "taskqueue_server", "deliver"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_serve_publishes_and_deliver_process_sends_webhooks(
    make_server: Callable[..., ServerProcess],
    sqlite_url: str,
    redis_url: str,
    redis_key_prefix: str,
    key_for: Callable[..., Any],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    redis_env = {"TASKQUEUE_REDIS_URL": redis_url, "TASKQUEUE_REDIS_KEY_PREFIX": redis_key_prefix}
    server = make_server(sqlite_url, **redis_env)
    key = await key_for(server)
    log = tmp_path / "deliver.log"
    deliver = _start_deliver({**server.env, **redis_env}, log)
    try:
        async with AsyncTaskQueueClient(base_url=server.url, api_key=key) as client:
            await client.create_webhook(receiver.url, ["task.created"], secret=receiver.secret)
            task = await client.create_task(name="via-redis", command="true")
        receiver.wait_for(lambda events: any(e.data["id"] == str(task.id) for e in events), 60)
    finally:
        deliver.terminate()
        code = deliver.wait(timeout=30)
    assert code == 0, log.read_text()


def test_deliver_without_redis_is_a_usage_error(
    run_cli: Callable[..., subprocess.CompletedProcess[str]], sqlite_url: str
) -> None:
    done = run_cli({"TASKQUEUE_DATABASE_URL": sqlite_url}, "deliver")
    assert done.returncode == 2
    assert "TASKQUEUE_REDIS_URL" in done.stderr


def test_deliver_refreshes_its_heartbeat_file_and_stops_cleanly(
    sqlite_url: str, redis_url: str, redis_key_prefix: str, tmp_path: Path
) -> None:
    beat = tmp_path / "deliver.alive"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKQUEUE_")}
    env.update(
        TASKQUEUE_DATABASE_URL=sqlite_url,
        TASKQUEUE_REDIS_URL=redis_url,
        TASKQUEUE_REDIS_KEY_PREFIX=redis_key_prefix,
        PLATFORM_HEARTBEAT_FILE=str(beat),
    )
    log = tmp_path / "deliver.log"
    deliver = _start_deliver(env, log)
    try:
        _wait_for(beat.exists, deliver, log, "deliver never wrote its heartbeat file")
        time.sleep(1)  # past the touches made at start: the next one comes from the loop
        os.utime(beat, (0, 0))  # looks long dead; a live process touches it again
        _wait_for(lambda: beat.stat().st_mtime > 0, deliver, log, "heartbeat not refreshed")
        deliver.send_signal(signal.SIGTERM)
        assert deliver.wait(timeout=30) == 0, log.read_text()
    finally:
        if deliver.poll() is None:
            deliver.kill()
            deliver.wait(timeout=30)


def _wait_for(
    check: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    # The heartbeat interval is 5 s; the rest is start-up, slow when parallel tests share a CPU.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            raise AssertionError(f"deliver exited: {log.read_text()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(what)
