"""What every task operation shares: the wire view of a row, change records, and the base
store with its helpers (loading, dependencies, status entry)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from taskqueue_server.db.engine import single_statement_session_factory
from taskqueue_server.db.schema import ProjectRow, TaskDependencyRow, TaskRow
from taskqueue_server.db.task_read import TaskReader
from taskqueue_server.db.tenancy import ScopedStore
from taskqueue_server.errors import ConflictError, NotFoundError
from taskqueue_server.state import PHASE_ORDER

__all__ = [
    "NULLABLE_FIELDS",
    "PLAIN_FIELDS",
    "REDACTED",
    "TASK_COLUMNS",
    "Change",
    "StoredTask",
    "TaskStoreBase",
    "event_for",
    "phase_entry",
    "task_from_row",
    "task_wire",
]

PLAIN_FIELDS = (
    "name",
    "command",
    "description",
    "technical_specs",
    "acceptance_criteria",
    "task_type",
    "timeout",
    "retry_attempts",
    "retry_delay",
    "environment",
    "secret_environment",
    "working_directory",
    "ai_reviews_required",
    "ai_reviews_completed",
)

TASK_COLUMNS: tuple[tuple[str, ColumnElement[Any]], ...] = tuple(
    (attr.key, attr.columns[0]) for attr in sa_inspect(TaskRow).column_attrs
)
"""Every column of the tasks table with the name of its mapped attribute (``meta`` for
``metadata``): what a Core statement returns to build a :class:`TaskRow` from."""


def task_from_row(values: Row[Any]) -> TaskRow:
    """A (detached) :class:`TaskRow` from a Core row that holds :data:`TASK_COLUMNS`.

    The hot statements (claim, batch completion) run as Core statements: the ORM's bulk
    UPDATE path rebuilt the statement, and so its cache key, on every call.
    """
    found = values._mapping
    return TaskRow(**{key: found[column] for key, column in TASK_COLUMNS})


REDACTED = "[redacted]"
"""What a secret environment value reads as everywhere but the claim response."""

NULLABLE_FIELDS = frozenset({"description", "technical_specs", "timeout", "working_directory"})


@dataclass(frozen=True)
class StoredTask:
    """A task row with its dependency ids, ready to be turned into the wire model."""

    row: TaskRow
    dependencies: list[uuid.UUID] = field(default_factory=list)

    def to_wire(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        """The task as a dict with the contract's field names (JSON-compatible values).

        Args:
            reveal_secrets: Give ``secret_environment``'s values (only for the worker that
                holds the lease, in the claim response); otherwise each reads
                :data:`REDACTED`.
        """
        return task_wire(self.row, self.dependencies, reveal_secrets=reveal_secrets)


@dataclass(frozen=True)
class Change:
    """A task that changed, with the event type it should announce; ``unblocks`` when it
    completed and some task waits on it (so waiting claims should look again)."""

    task: StoredTask
    event_type: str
    unblocks: bool = False


class TaskStoreBase(ScopedStore):
    """State and helpers shared by the task operations.

    Args:
        sessions: The session factory bound to the server's engine.
        readers: Sessions for reads (see :func:`~taskqueue_server.db.engine.read_session_factory`);
            ``sessions`` when omitted.
        dialect: The engine's dialect name; ``"postgresql"`` enables ``SKIP LOCKED``.

    A store serves requests only once bound to a tenant with :meth:`scoped`; every
    request-serving query then carries :meth:`_tenant_where` (see
    :mod:`taskqueue_server.db.tenancy`).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        dialect: str,
        readers: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._readers = readers or sessions
        self._skip_locked = dialect == "postgresql"
        reads, writes = self._readers.kw.get("bind"), self._sessions.kw.get("bind")
        if not isinstance(reads, AsyncEngine) or not isinstance(writes, AsyncEngine):
            raise TypeError("the session factories must be bound to an AsyncEngine")
        self._reader = TaskReader(reads)
        self._single_statement = single_statement_session_factory(writes)
        engine = self._single_statement.kw["bind"]
        assert isinstance(engine, AsyncEngine)
        self._single_statement_engine: AsyncEngine = engine

    def _tenant_where(self, model: Any = TaskRow) -> ColumnElement[bool]:
        """The tenant (and project) condition every request-serving query carries."""
        return self.scope.where(model)

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    async def _deps(
        session: AsyncSession, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        found: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
        if not ids:
            return found
        rows = await session.execute(
            select(TaskDependencyRow.task_id, TaskDependencyRow.depends_on_id).where(
                TaskDependencyRow.task_id.in_(ids)
            )
        )
        for task_id, dep in rows:
            found[task_id].append(dep)
        return found

    async def _stored(self, session: AsyncSession, rows: Sequence[TaskRow]) -> list[StoredTask]:
        deps = await self._deps(session, [r.id for r in rows])
        return [StoredTask(r, sorted(deps[r.id], key=str)) for r in rows]

    async def _load(self, session: AsyncSession, task_id: uuid.UUID) -> TaskRow:
        scope = self.scope
        row = await session.get(TaskRow, task_id, populate_existing=True)
        if row is None or not scope.owns(row.tenant_id, row.project_id):  # tenant filter
            raise NotFoundError("task", task_id)
        return row

    async def _check_project(self, session: AsyncSession, project_id: uuid.UUID | None) -> None:
        scope = self.scope
        if not scope.allows_project(project_id):
            raise NotFoundError("project", project_id)
        if project_id is None:
            return
        row = await session.get(ProjectRow, project_id)
        if row is None or row.tenant_id != scope.tenant:  # tenant filter
            raise NotFoundError("project", project_id)

    async def _set_dependencies(
        self, session: AsyncSession, task_id: uuid.UUID, deps: Iterable[uuid.UUID]
    ) -> None:
        wanted = list(dict.fromkeys(deps))
        if task_id in wanted:
            raise ConflictError("a task cannot depend on itself; remove its own id")
        if wanted:
            found = select(TaskRow.id).where(TaskRow.id.in_(wanted), self._tenant_where())
            known = set((await session.scalars(found)).all())
            for dep in wanted:
                if dep not in known:
                    raise NotFoundError("task", dep)
            await self._refuse_cycle(session, task_id, wanted)
        await session.execute(delete(TaskDependencyRow).where(TaskDependencyRow.task_id == task_id))
        session.add_all(TaskDependencyRow(task_id=task_id, depends_on_id=d) for d in wanted)

    @staticmethod
    async def _refuse_cycle(
        session: AsyncSession, task_id: uuid.UUID, deps: list[uuid.UUID]
    ) -> None:
        seen: set[uuid.UUID] = set()
        frontier = list(deps)
        while frontier:
            if task_id in frontier:
                raise ConflictError(
                    "these dependencies would form a cycle, so no task in it could ever run; "
                    "drop the dependency that points back to this task"
                )
            seen.update(frontier)
            rows = await session.scalars(
                select(TaskDependencyRow.depends_on_id).where(
                    TaskDependencyRow.task_id.in_(frontier)
                )
            )
            frontier = [d for d in rows.all() if d not in seen]

    async def _fail_dependents(
        self, session: AsyncSession, task_id: uuid.UUID, status: str, now: datetime
    ) -> list[TaskRow]:
        """Fail pending tasks that wait on a task that can no longer complete."""
        failed: list[TaskRow] = []
        frontier = [(task_id, status)]
        while frontier:
            dep_id, dep_status = frontier.pop()
            rows = await session.scalars(
                select(TaskRow)
                .join(TaskDependencyRow, TaskDependencyRow.task_id == TaskRow.id)
                .where(TaskDependencyRow.depends_on_id == dep_id, TaskRow.status == "Pending")
            )
            for row in rows.all():
                row.status = "Failed"
                row.result = {"error": f"dependency {dep_id} ended {dep_status}; it never ran"}
                row.updated_at = now
                failed.append(row)
                frontier.append((row.id, "Failed"))
        return failed

    @staticmethod
    def _enter_status(row: TaskRow, status: str, now: datetime) -> None:
        if row.current_phase and row.phases and status in PHASE_ORDER:
            row.phases = [
                *row.phases[:-1],
                {**row.phases[-1], "completed_at": now.isoformat()},
                phase_entry(status, now),
            ]
            row.current_phase = status
        row.status = status
        if status in ("Pending", "Completed", "Failed"):
            row.lease_owner = None
            row.lease_expires_at = None
            row.lease_token = None

    async def _changes(self, session: AsyncSession, rows: Sequence[TaskRow]) -> list[Change]:
        return [Change(t, event_for(t.row.status)) for t in await self._stored(session, rows)]


def phase_entry(phase: str, now: datetime) -> dict[str, Any]:
    """A new entry of a task's ``phases`` list."""
    return {
        "phase": phase,
        "started_at": now.isoformat(),
        "completed_at": None,
        "documentation": None,
        "artifacts": [],
    }


def event_for(status: str) -> str:
    """The webhook event type announcing that a task entered ``status``."""
    return {
        "Completed": "task.completed",
        "Failed": "task.failed",
        "Cancelled": "task.cancelled",
    }.get(status, "task.updated")


def task_wire(
    r: Any, dependencies: Sequence[uuid.UUID], *, reveal_secrets: bool = False
) -> dict[str, Any]:
    """A task row (ORM object, or any object with the column attributes and ``meta``) as a
    dict with the contract's field names; secret environment values read :data:`REDACTED`
    unless ``reveal_secrets``."""
    secrets: dict[str, str] = dict(r.secret_environment or {})
    return {
        "id": str(r.id),
        "name": r.name,
        "command": r.command,
        "description": r.description,
        "technical_specs": r.technical_specs,
        "acceptance_criteria": list(r.acceptance_criteria or []),
        "task_type": r.task_type,
        "priority": r.priority,
        "project_id": str(r.project_id) if r.project_id else None,
        "dependencies": [str(d) for d in dependencies],
        "timeout": r.timeout,
        "retry_attempts": r.retry_attempts,
        "retry_delay": r.retry_delay,
        "environment": dict(r.environment or {}),
        "secret_environment": secrets if reveal_secrets else dict.fromkeys(secrets, REDACTED),
        "working_directory": r.working_directory,
        "created_at": r.created_at.isoformat(),
        "updated_at": r.updated_at.isoformat(),
        "status": r.status,
        "result": r.result,
        "phases": list(r.phases or []),
        "current_phase": r.current_phase,
        "ai_reviews_required": r.ai_reviews_required,
        "ai_reviews_completed": r.ai_reviews_completed,
        "metadata": dict(r.meta or {}),
        "attempts": r.attempts,
        "worker_id": r.lease_owner if r.status == "Running" else None,
        "lease_expires_at": (
            r.lease_expires_at.isoformat() if r.status == "Running" and r.lease_expires_at else None
        ),
        "run_after": _run_after(r),
    }


def _run_after(r: Any) -> str | None:
    """When a Pending task held back after a failed attempt becomes runnable again."""
    available = getattr(r, "available_at", None)
    if r.status != "Pending" or available is None or available <= r.updated_at:
        return None
    return str(available.isoformat())
