"""The sync client is generated from the async source; a stale generated file fails here."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "unasync_sdk.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_sdk", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_sync_client_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_generated_files_say_so_and_how_to_regenerate() -> None:
    script = _script()
    for sync_name in script.PAIRS.values():
        head = (script.SRC / sync_name).read_text().splitlines()[:3]
        assert "do not edit" in head[0]
        assert "python scripts/unasync_sdk.py" in head[1]


def test_check_fails_when_the_async_source_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script()
    copy = tmp_path / "taskqueue"
    shutil.copytree(script.SRC, copy)
    monkeypatch.setattr(script, "SRC", copy)
    monkeypatch.setattr(script, "ROOT", tmp_path)
    assert script.main(["--check"]) == 0
    extras = copy / "_async_extras.py"
    extras.write_text(extras.read_text().replace("Return counts", "Return the counts"))
    assert script.main(["--check"]) == 1
    assert "_sync_extras.py" in capsys.readouterr().err
    assert script.main([]) == 0  # regenerates
    assert "Return the counts" in (copy / "_sync_extras.py").read_text()
    assert script.main(["--check"]) == 0


def test_the_sync_twin_has_no_async_left() -> None:
    script = _script()
    for sync_name in script.PAIRS.values():
        text = (script.SRC / sync_name).read_text()
        for word in ("async def", "await ", "asyncio", "AsyncClient"):
            assert word not in text, f"{word!r} in {sync_name}"
