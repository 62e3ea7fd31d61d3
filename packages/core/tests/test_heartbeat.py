"""The heartbeat file a worker refreshes and the checker a container health check runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from platform_core.heartbeat import check_heartbeat, heartbeat_from_env, main, start_heartbeat


async def test_heartbeat_refreshes_while_the_loop_turns(tmp_path: Path) -> None:
    path = tmp_path / "hb"
    task = start_heartbeat(path, interval=0.01)
    try:
        os.utime(path, (time.time() - 100, time.time() - 100))
        assert not check_heartbeat(path, 50)
        await asyncio.sleep(0.05)
        assert check_heartbeat(path, 50)
    finally:
        task.cancel()


async def test_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLATFORM_HEARTBEAT_FILE", raising=False)
    assert heartbeat_from_env() is None
    monkeypatch.setenv("PLATFORM_HEARTBEAT_FILE", str(tmp_path / "hb"))
    task = heartbeat_from_env()
    assert task is not None
    task.cancel()
    assert (tmp_path / "hb").exists()


def test_checker_exit_codes(tmp_path: Path) -> None:
    path = tmp_path / "hb"
    assert main([str(path), "10"]) == 1  # missing
    path.touch()
    assert main([str(path), "10"]) == 0
    os.utime(path, (time.time() - 30, time.time() - 30))
    assert main([str(path), "10"]) == 1  # stale
    assert main([str(path)]) == 2
    assert main([str(path), "soon"]) == 2


def test_runs_as_a_module(tmp_path: Path) -> None:
    (tmp_path / "hb").touch()
    cmd = [sys.executable, "-m", "platform_core.heartbeat", str(tmp_path / "hb"), "60"]
    assert subprocess.run(cmd, check=False).returncode == 0


def test_help_explains_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "MAX_AGE_SECONDS" in out
    assert "Exit 0" in out
