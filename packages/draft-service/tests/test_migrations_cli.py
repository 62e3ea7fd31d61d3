"""Migrations from the installed package, on SQLite and PostgreSQL, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect

from draft_service.cli import main
from draft_service.db import create_engine, current_revision, upgrade
from draft_service.db.schema import Base


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        await upgrade(engine)  # idempotent
        assert await current_revision(engine) == "0003_job_handover"
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert diff == []
        assert {"threads", "messages", "drafts", "revisions", "jobs"} <= tables
    finally:
        await engine.dispose()


def test_cli_migrate_json(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        main, ["migrate", "--json"], env={"DRAFTS_DATABASE_URL": sqlite_url}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"revision": "0003_job_handover"}


def test_cli_bad_setting_exits_1_naming_it() -> None:
    result = CliRunner().invoke(main, ["migrate"], env={"DRAFTS_DATABASE_URL": "mysql://x"})
    assert result.exit_code == 1
    assert "DRAFTS_DATABASE_URL" in result.output


def test_cli_worker_needs_redis(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["worker"], env={"DRAFTS_DATABASE_URL": sqlite_url})
    assert result.exit_code == 1  # a setting missing, as every start that fails early
    assert "DRAFTS_REDIS_URL" in result.output


def test_console_script_runs_from_the_installed_package(sqlite_url: str) -> None:
    env = {**os.environ, "DRAFTS_DATABASE_URL": sqlite_url}
    out = subprocess.run(
        [sys.executable, "-m", "draft_service", "migrate", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["revision"] == "0003_job_handover"
