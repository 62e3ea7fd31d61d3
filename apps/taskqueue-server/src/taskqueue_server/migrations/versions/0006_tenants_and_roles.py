"""tenants and roles: every key, task, project and webhook belongs to a tenant; keys carry a
role and may be restricted to projects; tasks keep secret environment values apart

Existing rows move into the ``default`` tenant and existing keys become its admins, so a
server upgraded in place answers every existing key as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_TENANT_TABLES = ("api_keys", "projects", "tasks", "webhooks")


def _tenant_column() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(length=64), nullable=False, server_default=sa.text("'default'")
    )


def upgrade() -> None:
    """Apply this revision.

    Plain ``ADD COLUMN`` (with a server default) and ``CREATE INDEX``, no table rebuild: on
    SQLite a batch rebuild of ``projects`` would drop a table that tasks reference.
    """
    for table in _TENANT_TABLES:
        op.add_column(table, _tenant_column())
    op.add_column(
        "api_keys",
        sa.Column("role", sa.String(length=16), nullable=False, server_default=sa.text("'admin'")),
    )
    op.add_column("api_keys", sa.Column("projects", sa.JSON(), nullable=True))
    op.add_column(
        "tasks",
        sa.Column("secret_environment", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"], unique=False)
    op.create_index(
        "ix_tasks_tenant_created", "tasks", ["tenant_id", "created_at", "id"], unique=False
    )
    op.create_index("ix_projects_tenant_id", "projects", ["tenant_id"], unique=False)
    op.create_index("ix_webhooks_tenant_id", "webhooks", ["tenant_id"], unique=False)


def downgrade() -> None:
    """Revert this revision.

    Tenants, roles and project restrictions are forgotten (every key has full access again);
    secret environment values are merged back into ``environment`` (where every key can read
    them: a server of the previous version has no secret values). ``DROP COLUMN`` needs
    SQLite 3.35 or newer.
    """
    tasks = sa.table(
        "tasks",
        sa.column("id", sa.Uuid()),
        sa.column("environment", sa.JSON()),
        sa.column("secret_environment", sa.JSON()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(tasks.c.id, tasks.c.environment, tasks.c.secret_environment)
    ).all()
    for task_id, environment, secret in rows:
        if secret:
            bind.execute(
                tasks.update()
                .where(tasks.c.id == task_id)
                .values(environment={**(environment or {}), **secret})
            )
    op.drop_index("ix_webhooks_tenant_id", table_name="webhooks")
    op.drop_index("ix_projects_tenant_id", table_name="projects")
    op.drop_index("ix_tasks_tenant_created", table_name="tasks")
    op.drop_index("ix_api_keys_tenant_id", table_name="api_keys")
    op.drop_column("tasks", "secret_environment")
    op.drop_column("api_keys", "projects")
    op.drop_column("api_keys", "role")
    for table in _TENANT_TABLES:
        op.drop_column(table, "tenant_id")
