"""Persistence: schema, engine and migrations."""

from draft_service.db.engine import create_engine, session_factory
from draft_service.db.migrate import current_revision, upgrade

__all__ = ["create_engine", "current_revision", "session_factory", "upgrade"]
