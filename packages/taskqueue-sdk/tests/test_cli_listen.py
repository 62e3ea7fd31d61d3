"""``taskqueue webhooks listen``: a real receiver process that verifies and prints events."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from platform_core.testing.services import free_port
from taskqueue.webhooks import generate_secret, webhook_headers


def test_listen_prints_verified_events_and_rejects_forged_ones() -> None:
    secret = generate_secret()
    port = free_port()
    env = {**os.environ, "TASKQUEUE_WEBHOOK_SECRET": secret}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskqueue.cli",
            "--json",
            "webhooks",
            "listen",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/webhooks"
    body = json.dumps(
        {"type": "task.failed", "timestamp": "2026-01-01T00:00:00Z", "data": {"id": "t-1"}}
    ).encode()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                good = httpx.post(url, content=body, headers=webhook_headers(secret, body))
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("the receiver did not start")
                time.sleep(0.05)
        forged = httpx.post(url, content=body, headers=webhook_headers(generate_secret(), body))
        assert (good.status_code, forged.status_code) == (200, 400)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    printed = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert [(e["type"], e["data"]["id"]) for e in printed] == [("task.failed", "t-1")]
