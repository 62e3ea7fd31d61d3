"""Revision status, finish reason and provenance; writer profiles.

Revision ID: 0002_provenance_profiles
Revises: 0001_initial
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_provenance_profiles"
down_revision: str | None = "0001_initial"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the revision columns and the profiles table."""
    with op.batch_alter_table("revisions") as batch:
        batch.add_column(sa.Column("status", sa.String(20), nullable=False, server_default="ready"))
        batch.add_column(sa.Column("finish_reason", sa.String(40), nullable=True))
        batch.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
    op.create_table(
        "user_profiles",
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(200), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("tone", sa.String(200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_profiles"),
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("user_profiles")
    with op.batch_alter_table("revisions") as batch:
        batch.drop_column("provenance")
        batch.drop_column("finish_reason")
        batch.drop_column("status")
