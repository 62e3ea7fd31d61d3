"""Servers the fixtures start are stopped whole: no process of theirs outlives the test."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

from platform_core.testing import find_elasticsearch, free_port
from platform_core.testing.processes import group_members, spawn, stop_group

# A wrapper that runs the real work as a child, as noida-db's entry point does.
_WRAPPER = "import subprocess, sys; sys.exit(subprocess.call(['sleep', '120']))"


def test_stopping_a_wrapper_stops_the_child_it_started() -> None:
    proc = spawn([sys.executable, "-c", _WRAPPER])
    try:
        deadline = time.monotonic() + 10
        while len(group_members(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(group_members(proc.pid)) == 2  # the wrapper and its sleep
    finally:
        stop_group(proc)
    assert group_members(proc.pid) == []


def test_private_elasticsearch_leaves_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ES_URL", raising=False)
    service = find_elasticsearch(standard=f"http://127.0.0.1:{free_port()}")
    assert service.source == "private"
    assert service.pid is not None
    assert group_members(service.pid) != []
    service.stop()
    assert group_members(service.pid) == []


def test_no_server_outlives_a_session(pytester: pytest.Pytester, tmp_path: Path) -> None:
    record = tmp_path / "pids"
    pytester.makepyfile(
        textwrap.dedent(
            f"""
            def test_uses_private_servers(elasticsearch_service, private_redis):
                with open({str(record)!r}, "w") as out:
                    out.write(f"{{elasticsearch_service.pid}} {{private_redis.pid}}")
            """
        )
    )
    pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"
    ).assert_outcomes(passed=1)
    pids = [int(p) for p in record.read_text().split()]
    assert len(pids) == 2
    assert [group_members(pid) for pid in pids] == [[], []]
