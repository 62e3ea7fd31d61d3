"""Indexes that serve newest-first pages (date descending, missing dates last, then id).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    for table, lead in (("objects", []), ("members", ["collection_key"])):
        for date in ("published", "updated"):
            op.create_index(
                f"{table}_by_{date}_desc",
                table,
                [*lead, sa.text(f"{date} DESC NULLS LAST"), "id_head"],
                schema=schema,
            )


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    for table in ("objects", "members"):
        for date in ("published", "updated"):
            op.drop_index(f"{table}_by_{date}_desc", table_name=table, schema=schema)
