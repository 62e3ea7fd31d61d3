"""The ``draft-api`` process: help without settings, and a clean JSON log (one access line
per request, no terminal colour codes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from platform_core.testing import free_port

_BIN = Path(sys.executable).with_name("draft-api")


def test_help_needs_no_settings(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    out = subprocess.run([str(_BIN), "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "DRAFT_API_PORT" in out.stdout
    assert "DRAFTS_" in out.stdout


def test_each_request_logs_one_json_access_line_without_colour_codes(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DRAFTS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'd.db'}",
        "DRAFTS_AUTH_DISABLED": "true",
        "DRAFTS_LLM_PROVIDER": "offline",
        "DRAFTS_LOG_FORMAT": "json",
        "DRAFT_API_HOST": "127.0.0.1",
        "DRAFT_API_PORT": str(port),
    }
    env.pop("DRAFTS_REDIS_URL", None)
    env.pop("DRAFTS_API_KEY", None)
    log = tmp_path / "draft-api.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([str(_BIN)], env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health/live").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "draft-api did not start"
                time.sleep(0.1)
            for _ in range(3):
                assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        finally:
            proc.terminate()
            proc.wait(30)
    text = log.read_text()
    assert "\x1b[" not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    served = [line for line in lines if line.get("path") == "/"]
    assert len(served) == 3, text  # one line per request, from one place
    assert all(line["logger"] == "api_core.access" for line in served)
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # routed through ours
