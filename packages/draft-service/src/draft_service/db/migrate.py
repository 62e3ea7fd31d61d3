"""Alembic migrations run programmatically, so they work from an installed wheel."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from platform_core.errors import DependencyUnavailableError

__all__ = ["alembic_config", "current_revision", "upgrade"]


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", "draft_service:migrations")
    return cfg


_MIGRATION_LOCK = 0x64726166  # any constant shared by every process of this service


def _upgrade(conn: Connection, revision: str) -> None:
    if conn.dialect.name == "postgresql":
        # API and workers may start together; one migrates while the others wait.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``.

    Raises:
        DependencyUnavailableError: when the database cannot be reached.
    """
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, revision)
    except (OSError, SQLAlchemyError) as exc:
        raise DependencyUnavailableError(
            "database", f"migrating failed: {exc}; check DRAFTS_DATABASE_URL"
        ) from exc


def _current(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
