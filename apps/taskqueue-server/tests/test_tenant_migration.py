"""Migration 0006 (tenants and roles) up and down with data, on SQLite and PostgreSQL; and the
key commands' tenant, role and project options."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from taskqueue_server.db.apikeys import ApiKeyStore, hash_key
from taskqueue_server.db.engine import create_engine, session_factory
from taskqueue_server.db.tenancy import Role, TenantScope
from taskqueue_server.migrate import alembic_config, current_revision, upgrade

if TYPE_CHECKING:
    from conftest import ServerProcess

Cli = Callable[..., subprocess.CompletedProcess[str]]

_KEY = "tq_old1_" + "x" * 40
_NOW = "2026-11-30 10:00:00"


async def test_existing_rows_move_into_the_default_tenant_and_back(database_url: str) -> None:
    engine = create_engine(database_url)
    key_id, project_id, task_id, hook_id = (uuid.uuid4() for _ in range(4))
    hexes = {"k": key_id, "p": project_id, "t": task_id, "h": hook_id}
    # SQLite stores UUIDs as 32 hex digits, PostgreSQL as uuid.
    sqlite = engine.dialect.name == "sqlite"
    ids = {k: (v.hex if sqlite else str(v)) for k, v in hexes.items()}
    now: object = _NOW if sqlite else datetime(2026, 11, 30, 10, tzinfo=UTC)
    try:
        await upgrade(engine, "0005")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO api_keys (id, name, prefix, key_hash, created_at) "
                    "VALUES (:id, 'old', 'old1', :hash, :now)"
                ),
                {"id": ids["k"], "hash": hash_key(_KEY), "now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO projects (id, name, status, tags, metadata, created_at, "
                    "updated_at) VALUES (:id, 'p', 'Active', '[]', '{}', :now, :now)"
                ),
                {"id": ids["p"], "now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO tasks (id, name, command, acceptance_criteria, task_type, "
                    "priority, priority_rank, project_id, retry_attempts, retry_delay, "
                    "environment, status, phases, ai_reviews_required, ai_reviews_completed, "
                    "metadata, created_at, updated_at, attempts, available_at) VALUES "
                    "(:id, 't', 'true', '[]', 'Simple', 'Normal', 1, :p, 3, 30, "
                    "'{\"A\": \"1\"}', 'Pending', '[]', 3, 0, '{}', :now, :now, 0, :now)"
                ),
                {"id": ids["t"], "p": ids["p"], "now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO webhooks (id, url, secret, event_types, active, created_at) "
                    "VALUES (:id, 'http://example.com/h', 's', '[]', true, :now)"
                ),
                {"id": ids["h"], "now": now},
            )
        await upgrade(engine)
        assert await current_revision(engine) == _head()
        async with engine.connect() as conn:
            for table in ("api_keys", "projects", "tasks", "webhooks"):
                tenants = (await conn.execute(text(f"SELECT tenant_id FROM {table}"))).all()
                assert tenants == [("default",)], table
            role = (await conn.execute(text("SELECT role, projects FROM api_keys"))).one()
            assert tuple(role) == ("admin", None)
        scope = await ApiKeyStore(session_factory(engine)).authenticate(_KEY)
        assert scope == TenantScope("default", Role.ADMIN, None, str(key_id))

        # Down: a secret value goes back into the environment; every row survives.
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE tasks SET secret_environment = :s"), {"s": '{"TOKEN": "t0k"}'}
            )
        await upgrade_down(engine)
        async with engine.connect() as conn:
            env = (await conn.execute(text("SELECT environment FROM tasks"))).scalar_one()
            env = json.loads(env) if isinstance(env, str) else env
            assert env == {"A": "1", "TOKEN": "t0k"}
            counts = [
                (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
                for t in ("api_keys", "projects", "tasks", "webhooks")
            ]
            assert counts == [1, 1, 1, 1]
            columns = await conn.run_sync(
                lambda sync: [c["name"] for c in inspect(sync).get_columns("api_keys")]
            )
            assert "tenant_id" not in columns
            assert "role" not in columns
        await upgrade(engine)
        assert await current_revision(engine) == _head()
    finally:
        await engine.dispose()


def _head() -> str | None:
    """The newest revision of the migration scripts (the tenants migration is the latest)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade_down(engine: AsyncEngine) -> None:
    """Downgrade to 0005, the revision before tenants (as ``alembic downgrade 0005`` would)."""
    cfg = alembic_config()

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def test_key_commands_take_tenant_role_and_projects(
    make_server: Callable[..., ServerProcess], run_cli: Cli, sqlite_url: str
) -> None:
    server = make_server(sqlite_url)
    admin = json.loads(run_cli(server.env, "create-api-key", "--name", "a", "--json").stdout)
    assert (admin["tenant"], admin["role"], admin["projects"]) == ("default", "admin", None)
    async with httpx.AsyncClient(base_url=server.url) as http:
        project = await http.post(
            "/api/projects", json={"name": "p"}, headers={"X-API-Key": admin["key"]}
        )
    project_id = project.json()["id"]
    made = run_cli(
        server.env,
        "create-api-key",
        "--name",
        "ci-worker",
        "--tenant",
        "acme",
        "--role",
        "worker",
        "--project",
        project_id,
        "--json",
    )
    assert made.returncode == 0, made.stderr
    worker = json.loads(made.stdout)
    assert (worker["tenant"], worker["role"], worker["projects"]) == (
        "acme",
        "worker",
        [project_id],
    )
    bad = run_cli(server.env, "create-api-key", "--name", "x", "--tenant", "no spaces!")
    assert bad.returncode == 2
    assert "tenant" in bad.stderr
    wrong_role = run_cli(server.env, "create-api-key", "--name", "x", "--role", "root")
    assert wrong_role.returncode == 2
    listed = json.loads(run_cli(server.env, "list-api-keys", "--tenant", "acme", "--json").stdout)
    assert [(k["name"], k["role"], k["projects"]) for k in listed] == [
        ("ci-worker", "worker", [project_id])
    ]
    table = run_cli(server.env, "list-api-keys").stdout
    assert "acme" in table
    assert "worker" in table
    async with httpx.AsyncClient(base_url=server.url) as http:
        as_worker = await http.get("/api/tasks", headers={"X-API-Key": worker["key"]})
        assert as_worker.status_code == 403
        revoked = run_cli(server.env, "revoke-api-key", worker["id"], "--json")
        assert revoked.returncode == 0
        gone = await http.get("/api/tasks", headers={"X-API-Key": worker["key"]})
        assert gone.status_code == 401
