"""The hot read path: one task's row and its dependency ids in a single statement.

``GET /api/tasks/{id}`` is the most frequent request, so it skips the ORM session and runs
one statement whose correlated subquery aggregates the dependency ids (``array_agg`` on
PostgreSQL, ``group_concat``, comma-separated, on SQLite).

On SQLite every call into the driver is a hop to the driver's thread and back; through
SQLAlchemy's adapter one statement costs four (cursor, execute, fetch, close) plus a rollback.
Here the statement, compiled once by SQLAlchemy, runs with the driver's ``execute_fetchall``
(one hop) and the values are converted by the columns' own SQLAlchemy type processors, so
they come out exactly as a normal query returns them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from taskqueue_server.db.schema import TaskDependencyRow, TaskRow

__all__ = ["TaskReader"]

_DEPENDENCY_IDS = "dependency_ids"


def _statement(dialect: str) -> Select[Any]:
    dep = TaskDependencyRow.depends_on_id
    aggregate = func.array_agg(dep) if dialect == "postgresql" else func.group_concat(dep)
    table = TaskRow.__table__
    dependency_ids = (
        select(aggregate).where(TaskDependencyRow.task_id == table.c.id).scalar_subquery()
    )
    return select(*table.columns, dependency_ids.label(_DEPENDENCY_IDS)).where(
        table.c.id == bindparam("task_id", type_=table.c.id.type)
    )


def _dependency_ids(aggregated: Any) -> list[uuid.UUID]:
    if not aggregated:
        return []
    if isinstance(aggregated, str):  # SQLite: group_concat of the stored 32-digit hex
        ids = [uuid.UUID(part) for part in aggregated.split(",")]
    else:  # PostgreSQL: array_agg of UUIDs
        ids = [d if isinstance(d, uuid.UUID) else uuid.UUID(str(d)) for d in aggregated]
    return sorted(ids, key=str)


class TaskReader:
    """Reads one task by id with a single statement.

    Args:
        engine: The engine for reads (on SQLite, one whose connections do not ``BEGIN``:
            see :func:`~taskqueue_server.db.engine.read_session_factory`).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        dialect = engine.dialect
        self._statement = _statement(dialect.name)
        self._sqlite = dialect.name == "sqlite"
        columns = list(TaskRow.__table__.columns)
        self._names = [c.name for c in columns]
        if self._sqlite:
            compiled = self._statement.compile(dialect=dialect)
            if list(compiled.positiontup or []) != ["task_id"]:
                raise RuntimeError(f"unexpected parameters in {compiled.string!r}")
            self._sql = compiled.string
            self._bind = TaskRow.__table__.c.id.type.dialect_impl(dialect).bind_processor(dialect)
            self._processors: list[Callable[[Any], Any] | None] = [
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            ]

    async def get(self, task_id: uuid.UUID) -> tuple[dict[str, Any], list[uuid.UUID]] | None:
        """The task's columns by column name (``metadata``, not ``meta``) and its sorted
        dependency ids, or None when no task has that id."""
        if not self._sqlite:
            async with self._engine.connect() as conn:
                found = (await conn.execute(self._statement, {"task_id": task_id})).first()
            if found is None:
                return None
            fields = dict(found._mapping)
            return fields, _dependency_ids(fields.pop(_DEPENDENCY_IDS))
        # Through SQLAlchemy's connection, so checkout and return (which may close an overflow
        # connection) run where the async driver can be awaited; nothing executes through it,
        # so it never begins a transaction and goes back without a rollback (see
        # create_engine's reset listener).
        async with self._engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection  # aiosqlite's
            param = self._bind(task_id) if self._bind is not None else task_id
            rows = list(await driver.execute_fetchall(self._sql, (param,)))
        if not rows:
            return None
        *values, aggregated = rows[0]
        fields = {
            name: (value if proc is None else proc(value))
            for name, proc, value in zip(self._names, self._processors, values, strict=True)
        }
        return fields, _dependency_ids(aggregated)
