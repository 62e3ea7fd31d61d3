"""Alembic environment: runs on the connection handed over by ``draft_service.db.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from draft_service.db.schema import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with `draft-service migrate` or draft_service.db.upgrade(), "
        "which pass the database connection"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
