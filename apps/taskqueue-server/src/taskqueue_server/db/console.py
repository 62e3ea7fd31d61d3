"""The reads only the web console needs: the last hour's throughput and failures, the running
tasks grouped by worker, and the tasks that depend on a task.

Like every store, :class:`ConsoleStore` serves requests only once bound to a tenant with
:meth:`~taskqueue_server.db.tenancy.ScopedStore.scoped`; each query carries
:meth:`_tenant_where`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskqueue_server.db.schema import TaskDependencyRow, TaskRow, utcnow
from taskqueue_server.db.tenancy import ScopedStore

__all__ = ["ConsoleStore", "Lease", "Throughput"]

MAX_LEASES = 500
"""The most running tasks the workers page lists (the oldest claims first)."""


@dataclass(frozen=True)
class Throughput:
    """Tasks that finished in each bucket of the last hour, oldest bucket first.

    Attributes:
        since: Start of the first bucket.
        bucket_minutes: Length of each bucket.
        completed: Completed tasks per bucket.
        failed: Failed tasks per bucket.
    """

    since: datetime
    bucket_minutes: int
    completed: list[int]
    failed: list[int]


@dataclass(frozen=True)
class Lease:
    """A running task's lease as stored: who holds it, since when, until when."""

    task_id: uuid.UUID
    name: str
    worker: str
    claimed_at: datetime
    expires_at: datetime | None
    attempts: int


class ConsoleStore(ScopedStore):
    """Aggregate reads for the console's overview and workers pages.

    Args:
        readers: Sessions for reads.
    """

    def __init__(self, readers: async_sessionmaker[AsyncSession]) -> None:
        self._readers = readers

    async def throughput(self, *, minutes: int = 60, buckets: int = 12) -> Throughput:
        """Completed and failed tasks per ``minutes / buckets`` over the last ``minutes``.

        A task counts in the bucket of its last change (``updated_at``): the table keeps no
        history, so a task finished and then changed again counts at the later time.
        """
        now = utcnow()
        width = timedelta(minutes=minutes / buckets)
        since = now - width * buckets
        edges = [since + width * i for i in range(buckets + 1)]
        columns: list[Any] = []
        for status in ("Completed", "Failed"):
            for i in range(buckets):
                inside = and_(
                    TaskRow.status == status,
                    TaskRow.updated_at >= edges[i],
                    TaskRow.updated_at < edges[i + 1],
                )
                columns.append(func.coalesce(func.sum(case((inside, 1), else_=0)), 0))
        query = select(*columns).where(
            self._tenant_where(TaskRow),  # tenant filter
            TaskRow.status.in_(("Completed", "Failed")),
            TaskRow.updated_at >= since,
        )
        async with self._readers() as session:
            row = (await session.execute(query)).one()
        counts = [int(v) for v in row]
        return Throughput(
            since, minutes // buckets, completed=counts[:buckets], failed=counts[buckets:]
        )

    async def leases(self, limit: int = MAX_LEASES) -> list[Lease]:
        """The running tasks' leases, oldest claim first."""
        query = (
            select(
                TaskRow.id,
                TaskRow.name,
                TaskRow.lease_owner,
                TaskRow.updated_at,
                TaskRow.lease_expires_at,
                TaskRow.attempts,
            )
            .where(self._tenant_where(TaskRow), TaskRow.status == "Running")  # tenant filter
            .order_by(TaskRow.updated_at, TaskRow.id)
            .limit(limit)
        )
        async with self._readers() as session:
            rows = (await session.execute(query)).all()
        return [
            Lease(
                r.id,
                r.name,
                r.lease_owner or "(unknown)",
                r.updated_at,
                r.lease_expires_at,
                r.attempts,
            )
            for r in rows
        ]

    async def dependents(
        self, task_id: uuid.UUID, limit: int = 100
    ) -> list[tuple[uuid.UUID, str, str]]:
        """Tasks waiting on ``task_id`` (id, name, status), visible in this scope."""
        query = (
            select(TaskRow.id, TaskRow.name, TaskRow.status)
            .join(TaskDependencyRow, TaskDependencyRow.task_id == TaskRow.id)
            .where(TaskDependencyRow.depends_on_id == task_id, self._tenant_where(TaskRow))
            .order_by(TaskRow.created_at, TaskRow.id)
            .limit(limit)
        )
        async with self._readers() as session:
            return [(r.id, r.name, r.status) for r in (await session.execute(query)).all()]

    async def names(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
        """Name and status of each of ``ids`` visible in this scope."""
        if not ids:
            return {}
        query = select(TaskRow.id, TaskRow.name, TaskRow.status).where(
            TaskRow.id.in_(ids), self._tenant_where(TaskRow)
        )
        async with self._readers() as session:
            return {r.id: (r.name, r.status) for r in (await session.execute(query)).all()}

    async def failed_since(self, since: datetime) -> int:
        """Tasks that are Failed and last changed after ``since``."""
        query = select(func.count()).where(
            self._tenant_where(TaskRow), TaskRow.status == "Failed", TaskRow.updated_at >= since
        )
        async with self._readers() as session:
            return int(await session.scalar(query) or 0)
