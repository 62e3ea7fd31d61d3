"""Migration 0004_keyset: the keyset indexes go up and come down on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from taskqueue_server.db.engine import create_engine
from taskqueue_server.migrate import alembic_config, current_revision, upgrade

KEYSET = {"ix_tasks_status_created", "ix_tasks_project_created"}


def _task_indexes(conn: Connection) -> dict[str, list[str | None]]:
    return {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("tasks") if i["name"]}


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _downgrade(conn: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.downgrade(cfg, "0003")


async def test_keyset_indexes_up_down_up(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            indexes = await conn.run_sync(_task_indexes)
        assert indexes["ix_tasks_status_created"] == ["status", "created_at", "id"]
        assert indexes["ix_tasks_project_created"] == ["project_id", "created_at", "id"]
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade)
        assert await current_revision(engine) == "0003"
        async with engine.connect() as conn:
            assert not KEYSET & set(await conn.run_sync(_task_indexes))
        await upgrade(engine)
        assert await current_revision(engine) == _head()
        async with engine.connect() as conn:
            assert set(await conn.run_sync(_task_indexes)) >= KEYSET
    finally:
        await engine.dispose()
