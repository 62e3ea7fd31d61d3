"""Alembic environment: runs on the connection handed over by :mod:`taskqueue_server.migrate`."""

from __future__ import annotations

from alembic import context

from taskqueue_server.db.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with `taskqueue-server migrate`, which provides the connection"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
