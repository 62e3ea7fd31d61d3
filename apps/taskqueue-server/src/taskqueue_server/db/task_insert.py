"""The hot write of ``POST /api/tasks``: one task row as one cached Core ``INSERT``.

The ORM's unit of work costs about a millisecond of CPU for a single row; this path fills the
row's column defaults itself (so the in-memory row answers exactly like a flushed one) and
executes a statement compiled once, on a connection that commits on its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, insert, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from taskqueue_server.db.schema import TaskRow

__all__ = ["insert_task_row"]

_TABLE: Table = TaskRow.__table__  # type: ignore[assignment]
_INSERT = insert(_TABLE)
# (attribute name, column name, default) for every mapped column.
_COLUMNS: list[tuple[str, str, Any]] = [
    (attr.key, attr.columns[0].key, attr.columns[0].default)
    for attr in inspect(TaskRow).column_attrs
]


def _default(default: Any) -> Any:
    if default is None:
        return None
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps zero-argument callables to take a context
    if default.is_scalar:
        return default.arg
    raise TypeError(f"unsupported column default {default!r}")  # pragma: no cover


async def insert_task_row(engine: AsyncEngine, row: TaskRow) -> None:
    """Insert ``row`` (a new, transient ``TaskRow``) in one autocommitted statement.

    Args:
        engine: An engine whose connections commit each statement on their own (see
            :func:`~taskqueue_server.db.engine.single_statement_session_factory`).
        row: The row; unset columns get their defaults, on the row as well.
    """
    state = row.__dict__
    values: dict[str, Any] = {}
    for attr, column, default in _COLUMNS:
        if attr not in state:
            setattr(row, attr, _default(default))
        values[column] = state[attr]
    async with engine.connect() as conn:
        await conn.execute(_INSERT, values)
        await conn.commit()
