"""The queue's statistics over one tenant: counts by status, priority, type and project
status, active workers, queue depth and the oldest runnable task's age."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from taskqueue_server.db.leases import LeaseOperations
from taskqueue_server.db.schema import ProjectRow, TaskRow, utcnow

__all__ = ["StatsOperations"]


class StatsOperations(LeaseOperations):
    """The statistics route's query."""

    async def stats(self) -> dict[str, Any]:
        """Counts by status and priority, queue depth and the oldest runnable task's age, over
        this store's tenant."""
        now = utcnow()
        mine, my_projects = self._tenant_where(), self._tenant_where(ProjectRow)  # tenant filter
        async with self._readers() as session:
            by_status = await _counts(session, TaskRow.status, mine)
            by_priority = await _counts(session, TaskRow.priority, mine)
            by_type = await _counts(session, TaskRow.task_type, mine)
            projects = await _counts(session, ProjectRow.status, my_projects)
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


async def _counts(session: AsyncSession, column: Any, where: Any) -> dict[str, int]:
    """Rows by the value of ``column``, among those ``where`` selects."""
    rows = await session.execute(select(column, func.count()).where(where).group_by(column))
    return {str(k): int(v) for k, v in rows}
