"""indexes for keyset pages of filtered task lists: (status | project_id, created_at, id)

``GET /api/tasks?cursor=...`` reads "the rows after (created_at, id)"; unfiltered that is the
existing ``ix_tasks_created``, filtered by status or project these let the database start at
the cursor instead of scanning every matching row.

Revision ID: 0004_keyset
Revises: 0003
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision: str = "0004_keyset"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_status_created", ["status", "created_at", "id"])
        batch_op.create_index("ix_tasks_project_created", ["project_id", "created_at", "id"])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_project_created")
        batch_op.drop_index("ix_tasks_status_created")
