"""The worker lease: claim, heartbeat, complete, fail, expiry, and the queue's statistics.

No task is ever leased to two workers at once: on PostgreSQL the claim selects candidates with
``FOR UPDATE SKIP LOCKED``; on SQLite every transaction begins with ``BEGIN IMMEDIATE`` (see
:mod:`taskqueue_server.db.engine`), so the claim's read and write run while no other writer can.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from taskqueue_server.db.schema import ProjectRow, TaskDependencyRow, TaskRow, utcnow
from taskqueue_server.db.task_base import Change, StoredTask, TaskStoreBase
from taskqueue_server.errors import LeaseError

__all__ = ["LeaseOperations"]


class LeaseOperations(TaskStoreBase):
    """The operations workers and the expiry sweep use."""

    def _runnable(self, now: datetime) -> Select[Any]:
        dep_task = aliased(TaskRow)
        blocked = exists(
            select(TaskDependencyRow.task_id)
            .join(dep_task, dep_task.id == TaskDependencyRow.depends_on_id)
            .where(TaskDependencyRow.task_id == TaskRow.id, dep_task.status != "Completed")
        )
        return select(TaskRow.id).where(
            TaskRow.status == "Pending", TaskRow.available_at <= now, ~blocked
        )

    async def expire_leases(self) -> list[Change]:
        """Return expired leases to the queue (or fail them when out of attempts)."""
        now = utcnow()
        async with self._sessions.begin() as session:
            return await self._expire(session, now)

    async def _expire(self, session: AsyncSession, now: datetime) -> list[Change]:
        rows = (
            await session.scalars(
                select(TaskRow).where(TaskRow.status == "Running", TaskRow.lease_expires_at < now)
            )
        ).all()
        changed: list[TaskRow] = []
        for row in rows:
            message = f"lease held by {row.lease_owner} expired without a heartbeat"
            if row.attempts > row.retry_attempts:
                row.status = "Failed"
                changed += await self._fail_dependents(session, row.id, "Failed", now)
            else:
                row.status = "Pending"
                row.available_at = now
            row.result = {**(row.result or {}), "error": message}
            row.lease_owner = None
            row.lease_expires_at = None
            row.updated_at = now
            changed.append(row)
        await session.flush()
        return await self._changes(session, changed)

    async def claim(
        self,
        worker_id: str,
        limit: int,
        lease_seconds: float,
        project_id: uuid.UUID | None = None,
    ) -> tuple[list[StoredTask], list[Change]]:
        """Lease up to ``limit`` runnable tasks to ``worker_id``, highest priority then oldest.

        Returns:
            The leased tasks, and the changes made by expiring stale leases on the way.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            expired = await self._expire(session, now)
            candidates = (
                self._runnable(now)
                .order_by(TaskRow.priority_rank.desc(), TaskRow.created_at, TaskRow.id)
                .limit(limit)
            )
            if project_id is not None:
                candidates = candidates.where(TaskRow.project_id == project_id)
            candidates = candidates.where(self._tenant_where())  # tenant filter
            if self._skip_locked:
                candidates = candidates.with_for_update(skip_locked=True)
            # Two statements, not UPDATE ... WHERE id IN (SELECT ... LIMIT n): PostgreSQL may
            # evaluate such a subquery more than once and lease more than n rows.
            ids = list((await session.scalars(candidates)).all())
            if not ids:
                return [], expired
            leased = await session.scalars(
                update(TaskRow)
                .where(TaskRow.id.in_(ids), TaskRow.status == "Pending")
                .values(
                    status="Running",
                    lease_owner=worker_id,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    attempts=TaskRow.attempts + 1,
                    updated_at=now,
                )
                .returning(TaskRow)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
            rows = sorted(leased.all(), key=lambda r: (-r.priority_rank, r.created_at, r.id))
            return await self._stored(session, rows), expired

    async def _held(self, session: AsyncSession, task_id: uuid.UUID, worker_id: str) -> TaskRow:
        row = await self._load(session, task_id)
        if row.status != "Running" or row.lease_owner != worker_id:
            holder = row.lease_owner or "nobody"
            raise LeaseError(
                f"task {task_id} is {row.status} and leased to {holder}, not {worker_id}; "
                "stop working on it (it was cancelled, or its lease expired and was re-issued)",
                task_status=row.status,
            )
        return row

    async def heartbeat(
        self, task_id: uuid.UUID, worker_id: str, lease_seconds: float
    ) -> tuple[datetime, bool]:
        """Extend the lease ``worker_id`` holds on a task.

        Returns:
            The new expiry, and True when the task was cancelled while this worker held it
            (the worker should stop the command).

        Raises:
            NotFoundError: unknown task.
            LeaseError: the worker does not hold the lease (its lease expired and was
                re-issued, or it never had it).
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._load(session, task_id)
            if row.status == "Cancelled" and row.lease_owner == worker_id:
                return now, True
            row = await self._held(session, task_id, worker_id)
            expires = now + timedelta(seconds=lease_seconds)
            row.lease_expires_at = expires
            return expires, False

    async def complete(
        self, task_id: uuid.UUID, worker_id: str, result: Mapping[str, Any]
    ) -> list[Change]:
        """Record a successful run and mark the task Completed.

        Raises:
            NotFoundError: unknown task.
            LeaseError: the worker does not hold the lease.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._held(session, task_id, worker_id)
            row.result = dict(result)
            self._enter_status(row, "Completed", now)
            row.updated_at = now
            await session.flush()
            return [Change((await self._stored(session, [row]))[0], "task.completed")]

    async def fail(
        self,
        task_id: uuid.UUID,
        worker_id: str,
        result: Mapping[str, Any],
        runs: int = 1,
        requeue: bool = False,
    ) -> list[Change]:
        """Record a failed run: back to Pending after ``retry_delay`` while attempts remain,
        otherwise Failed (and tasks waiting on it fail too).

        Args:
            task_id: The task.
            worker_id: The worker holding the lease.
            result: The last run's outcome.
            runs: How many runs the worker made under this lease (it may retry locally).
            requeue: Return the task to Pending at once without counting the run (a worker
                shutting down before the run finished).

        Raises:
            NotFoundError: unknown task.
            LeaseError: the worker does not hold the lease.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._held(session, task_id, worker_id)
            row.result = dict(result)
            more: list[TaskRow] = []
            if requeue:
                row.attempts = max(row.attempts - 1, 0)
                self._enter_status(row, "Pending", now)
                row.available_at = now
                event = "task.updated"
            elif (runs_so_far := row.attempts - 1 + max(runs, 1)) <= row.retry_attempts:
                row.attempts = runs_so_far
                self._enter_status(row, "Pending", now)
                row.available_at = now + timedelta(seconds=row.retry_delay)
                event = "task.updated"
            else:
                row.attempts = max(row.attempts, runs_so_far)
                self._enter_status(row, "Failed", now)
                more = await self._fail_dependents(session, row.id, "Failed", now)
                event = "task.failed"
            row.updated_at = now
            await session.flush()
            first = Change((await self._stored(session, [row]))[0], event)
            return [first, *await self._changes(session, more)]

    # --- stats ---------------------------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        """Counts by status and priority, queue depth and the oldest runnable task's age, over
        this store's tenant."""
        now = utcnow()
        mine, my_projects = self._tenant_where(), self._tenant_where(ProjectRow)  # tenant filter
        async with self._readers() as session:
            status_rows = await session.execute(
                select(TaskRow.status, func.count()).where(mine).group_by(TaskRow.status)
            )
            by_status: dict[str, int] = {str(k): int(v) for k, v in status_rows}
            priority_rows = await session.execute(
                select(TaskRow.priority, func.count()).where(mine).group_by(TaskRow.priority)
            )
            by_priority: dict[str, int] = {str(k): int(v) for k, v in priority_rows}
            type_rows = await session.execute(
                select(TaskRow.task_type, func.count()).where(mine).group_by(TaskRow.task_type)
            )
            by_type: dict[str, int] = {str(k): int(v) for k, v in type_rows}
            project_rows = await session.execute(
                select(ProjectRow.status, func.count())
                .where(my_projects)
                .group_by(ProjectRow.status)
            )
            projects: dict[str, int] = {str(k): int(v) for k, v in project_rows}
            workers = await session.scalar(
                select(func.count(func.distinct(TaskRow.lease_owner))).where(
                    TaskRow.status == "Running", mine
                )
            )
            runnable = self._runnable(now).where(mine).subquery()
            depth = await session.scalar(select(func.count()).select_from(runnable))
            oldest = await session.scalar(
                select(func.min(TaskRow.created_at)).where(TaskRow.id.in_(select(runnable.c.id)))
            )
        return {
            "tasks_total": sum(by_status.values()),
            "tasks_by_status": by_status,
            "tasks_by_priority": by_priority,
            "tasks_by_type": by_type,
            "projects_total": sum(projects.values()),
            "projects_by_status": projects,
            "workers_active": int(workers or 0),
            "generated_at": now.isoformat(),
            "queue_depth": int(depth or 0),
            "oldest_runnable_age_seconds": (now - oldest).total_seconds() if oldest else None,
        }
