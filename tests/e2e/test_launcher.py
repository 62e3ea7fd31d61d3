"""What the ``make run`` launcher plans to start, read from the environment (no processes)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def launcher(kit: Any) -> ModuleType:
    """``scripts/run_stack.py`` imported as a module."""
    name = "_e2e_run_stack"
    spec = importlib.util.spec_from_file_location(name, kit.LAUNCHER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _names(plan: Any) -> list[str]:
    return [p.name for p in plan.services]


def test_embedded_plan_keeps_its_state_under_the_data_folder(
    launcher: ModuleType, tmp_path: Path
) -> None:
    plan = launcher.make_plan({"STACK_DATA_DIR": str(tmp_path)})
    assert plan.mode == "embedded"
    assert _names(plan) == ["taskqueue-api", "draft-api", "task-worker"]
    api = plan.services[0].env
    assert api["TASKQUEUE_DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path / 'taskqueue.db'}"
    assert api["TASKQUEUE_WEBHOOK_ALLOW_PRIVATE"] == "true"
    assert plan.services[1].env["DRAFTS_DATABASE_URL"].endswith(str(tmp_path / "drafts.db"))
    assert (plan.taskqueue_port, plan.drafts_port) == (8080, 8000)
    again = launcher.make_plan({"STACK_DATA_DIR": str(tmp_path)})
    assert again.drafts_key == plan.drafts_key  # kept in the data folder across restarts
    assert (tmp_path / "drafts-api-key").stat().st_mode & 0o077 == 0


def test_one_of_the_two_service_urls_alone_is_named_and_the_stack_stays_embedded(
    launcher: ModuleType, tmp_path: Path
) -> None:
    plan = launcher.make_plan({"STACK_DATA_DIR": str(tmp_path), "REDIS_URL": "redis://x:6379"})
    assert plan.mode == "embedded"
    assert "DATABASE_URL" in plan.notes[0]
    assert all("REDIS_URL" not in k for p in plan.services for k in p.env if k != "REDIS_URL")


def test_an_otlp_endpoint_turns_on_telemetry_in_every_app(
    launcher: ModuleType, tmp_path: Path
) -> None:
    endpoint = "http://127.0.0.1:4318"
    plan = launcher.make_plan(
        {"STACK_DATA_DIR": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    )
    tq, dr = plan.services[0].env, plan.services[1].env
    assert tq["TASKQUEUE_TELEMETRY__ENABLED"] == dr["DRAFTS_TELEMETRY__ENABLED"] == "true"
    assert tq["TASKQUEUE_TELEMETRY__OTLP_ENDPOINT"] == dr["DRAFTS_TELEMETRY__OTLP_ENDPOINT"]


@pytest.mark.parametrize(
    ("var", "value"),
    [("TASKQUEUE_PORT", "http"), ("DRAFTS_PORT", "70000"), ("DRAFTS_PORT", "8080")],
)
def test_a_bad_port_setting_names_the_variable(
    launcher: ModuleType, tmp_path: Path, var: str, value: str
) -> None:
    with pytest.raises(launcher.StackError, match=var):
        launcher.make_plan({"STACK_DATA_DIR": str(tmp_path), var: value})


def test_help_prints_the_settings_and_starts_nothing(kit: Any, tmp_path: Path) -> None:
    # Run where nothing could start anyway: no data folder is created, no port is bound.
    done = subprocess.run(
        [sys.executable, str(kit.LAUNCHER), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: run_stack.py")
    for name in ("STACK_DATA_DIR", "TASKQUEUE_PORT", "REDIS_URL", "--drafts-port"):
        assert name in done.stdout
    assert "Stack is up" not in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_option_is_a_usage_error(kit: Any) -> None:
    done = subprocess.run(
        [sys.executable, str(kit.LAUNCHER), "--verbose"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "unrecognized arguments: --verbose" in done.stderr


def test_options_set_the_launcher_settings(launcher: ModuleType, tmp_path: Path) -> None:
    overrides = launcher.parse_args(["--data-dir", str(tmp_path), "--drafts-port", "8100"])
    assert overrides == {"STACK_DATA_DIR": str(tmp_path), "DRAFTS_PORT": "8100"}
    plan = launcher.make_plan(overrides)
    assert plan.drafts_port == 8100
    assert (tmp_path / "drafts-api-key").exists()


@pytest.fixture
def created_databases(postgres_url: str) -> Iterator[str]:
    """``postgres_url``; the databases the launcher creates next to it are dropped after."""
    yield postgres_url
    parts = urllib.parse.urlsplit(postgres_url)
    admin = urllib.parse.urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        for suffix in ("taskqueue", "drafts"):
            name = f"{parts.path.lstrip('/')}_{suffix}"
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_services_plan_creates_a_database_per_app_and_runs_separate_workers(
    launcher: ModuleType, tmp_path: Path, created_databases: str, redis_url: str
) -> None:
    env = {
        "STACK_DATA_DIR": str(tmp_path),
        "DATABASE_URL": created_databases,
        "REDIS_URL": redis_url,
        "STACK_DRAFT_WORKERS": "2",
    }
    plan = launcher.make_plan(env)
    assert plan.mode == "services"
    assert _names(plan) == [
        "taskqueue-api",
        "draft-api",
        "webhook-delivery",
        "draft-worker-1",
        "draft-worker-2",
        "task-worker",
    ]
    db = urllib.parse.urlsplit(created_databases).path.lstrip("/")
    tq_url = plan.services[0].env["TASKQUEUE_DATABASE_URL"]
    assert tq_url.startswith("postgresql+asyncpg://")
    assert tq_url.endswith(f"/{db}_taskqueue")
    assert plan.services[3].env["DRAFTS_REDIS_URL"] == redis_url
    with psycopg.connect(created_databases) as conn:
        found = conn.execute(
            "SELECT datname FROM pg_database WHERE datname IN (%s, %s) ORDER BY 1",
            (f"{db}_drafts", f"{db}_taskqueue"),
        ).fetchall()
    assert [r[0] for r in found] == [f"{db}_drafts", f"{db}_taskqueue"]
    assert launcher.make_plan(env).mode == "services"  # a second start reuses them


def test_the_banner_names_both_consoles_without_a_key_in_their_urls(
    launcher: ModuleType, tmp_path: Path
) -> None:
    plan = launcher.make_plan({"STACK_DATA_DIR": str(tmp_path)})
    plan.taskqueue_key = "tq_devkey_" + "k" * 30  # made by the launcher once the API is up
    lines = launcher.banner(plan).splitlines()
    consoles = [line for line in lines if "/ui/" in line]
    assert any("http://127.0.0.1:8080/ui/" in line for line in consoles)
    assert any(f"{plan.drafts_url}/ui/" in line for line in consoles)
    for line in consoles:
        assert plan.taskqueue_key not in line
        assert plan.drafts_key not in line
