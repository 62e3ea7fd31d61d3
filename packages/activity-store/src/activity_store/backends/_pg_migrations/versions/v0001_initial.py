"""Objects and collection members, with the columns queries filter, search and sort on.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_C = "C"  # byte (= code point, in UTF-8) order for ids, as every backend sorts them


def _search_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Text(collation=_C), nullable=False),
        # The first 256 characters sort like the id itself and keep index rows small, so ids
        # of any length can be stored.
        sa.Column("id_head", sa.Text(collation=_C), sa.Computed("left(id, 256)", persisted=True)),
        sa.Column("types", pg.ARRAY(sa.Text()), nullable=False),
        sa.Column("former_types", pg.ARRAY(sa.Text()), nullable=False),
        sa.Column("tags", pg.ARRAY(sa.Text()), nullable=False),
        sa.Column("words", pg.TSVECTOR(), nullable=False),
        sa.Column("published", sa.BigInteger()),
        sa.Column("updated", sa.BigInteger()),
    ]


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    op.create_table(
        "objects",
        sa.Column("key", sa.LargeBinary(), primary_key=True),
        *_search_columns(),
        sa.Column("doc", pg.JSONB(), nullable=False),
        schema=schema,
    )
    op.create_table(
        "members",
        sa.Column("collection_key", sa.LargeBinary(), primary_key=True),
        sa.Column("key", sa.LargeBinary(), primary_key=True),
        sa.Column("collection", sa.Text(), nullable=False),
        *_search_columns(),
        sa.Column("member", pg.JSONB(), nullable=False),
        schema=schema,
    )
    for table, lead in (("objects", []), ("members", ["collection_key"])):
        for column in ("types", "former_types", "tags", "words"):
            op.create_index(
                f"{table}_{column}", table, [column], schema=schema, postgresql_using="gin"
            )
        op.create_index(f"{table}_by_id", table, [*lead, "id_head"], schema=schema)
        for date in ("published", "updated"):
            op.create_index(f"{table}_by_{date}", table, [*lead, date, "id_head"], schema=schema)
    op.create_index("members_key", "members", ["key"], schema=schema)


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    op.drop_table("members", schema=schema)
    op.drop_table("objects", schema=schema)
