"""Alembic environment for the PostgreSQL backend: runs on the connection the backend passes.

The backend calls ``alembic.command.upgrade`` with ``config.attributes["connection"]`` (a
SQLAlchemy connection already in a transaction) and ``config.attributes["schema"]`` (the
namespace's schema, which holds the tables and the ``alembic_version`` table).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

config = context.config
connection = config.attributes["connection"]
schema: str = config.attributes["schema"]
quoted = '"' + schema.replace('"', '""') + '"'
# One migrating process per schema at a time; the others wait, then find it up to date.
connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:schema))"), {"schema": schema})
connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
context.configure(
    connection=connection,
    version_table_schema=schema,
    target_metadata=None,
    transactional_ddl=True,
)
context.run_migrations()
