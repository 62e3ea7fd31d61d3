"""Alembic migration scripts shipped with the package (script_location draft_service:migrations)."""
