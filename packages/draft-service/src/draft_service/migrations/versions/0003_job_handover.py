"""Jobs the queue could not take yet: ``jobs.unqueued_since``.

Revision ID: 0003_job_handover
Revises: 0002_provenance_profiles
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_job_handover"
down_revision: str | None = "0002_provenance_profiles"
branch_labels: str | None = None
depends_on: str | None = None

_WAITING = sa.text("unqueued_since IS NOT NULL")


def upgrade() -> None:
    """Add the column and a partial index of the jobs waiting for the relay."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("unqueued_since", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_jobs_unqueued_since",
        "jobs",
        ["unqueued_since"],
        postgresql_where=_WAITING,
        sqlite_where=_WAITING,
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_jobs_unqueued_since", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("unqueued_since")
