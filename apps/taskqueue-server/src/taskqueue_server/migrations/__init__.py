"""Alembic migration scripts shipped inside the package (no alembic.ini needed)."""
