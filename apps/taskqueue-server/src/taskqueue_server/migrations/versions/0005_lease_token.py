"""every lease carries a token; PostgreSQL announces runnable tasks with NOTIFY

Revision ID: 0005
Revises: 0004_keyset
Create Date: 2026-12-06 21:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004_keyset"
branch_labels: str | None = None
depends_on: str | None = None

# Long-polling claims LISTEN on this channel (see taskqueue_server.wakeup). A row trigger
# with a WHEN clause fires only for rows that may have become claimable; PostgreSQL folds
# identical notifications of one transaction into one and sends them at COMMIT.
_NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION taskqueue_notify_runnable() RETURNS trigger AS $$
BEGIN
    -- A completed task matters to claimers only when tasks wait on it.
    IF NEW.status = 'Completed' AND NOT EXISTS (
        SELECT 1 FROM task_dependencies WHERE depends_on_id = NEW.id
    ) THEN
        RETURN NULL;
    END IF;
    -- The payload names the server process (its application_name), which ignores its own.
    PERFORM pg_notify('taskqueue_runnable', current_setting('application_name'));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
_TRIGGERS = {
    "tasks_runnable_insert": "AFTER INSERT ON tasks FOR EACH ROW WHEN (NEW.status = 'Pending')",
    "tasks_runnable_update": "AFTER UPDATE OF status ON tasks FOR EACH ROW "
    "WHEN (NEW.status IN ('Pending', 'Completed') AND OLD.status IS DISTINCT FROM NEW.status)",
}


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_token", sa.String(length=64), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_NOTIFY_FUNCTION)
        for name, when in _TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION taskqueue_notify_runnable()")


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        for name in _TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON tasks")
        op.execute("DROP FUNCTION IF EXISTS taskqueue_notify_runnable()")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("lease_token")
