"""Persistence: schema, engine and migrations.

The migration helpers import Alembic (a large import), so they load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from draft_service.db.engine import create_engine, session_factory

if TYPE_CHECKING:
    from draft_service.db.migrate import current_revision, upgrade

__all__ = ["create_engine", "current_revision", "session_factory", "upgrade"]


def __getattr__(name: str) -> Any:
    if name in ("current_revision", "upgrade"):
        from draft_service.db import migrate

        return getattr(migrate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
