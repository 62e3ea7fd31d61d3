"""Retry: run a Failed or Cancelled task again, with the tasks that failed only because of it.

A retry is an operator's decision, so it starts the task afresh: ``Pending`` at once, its
attempt count back to zero, its last result cleared. Downstream tasks that ended ``Failed``
without running (their dependency failed, see ``_fail_dependents``) go back to ``Pending``
with it, transitively, and run when it completes; tasks that failed on their own stay as
they are. All of it is one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taskqueue_server.db.lease_reports import ReportOperations
from taskqueue_server.db.schema import TaskDependencyRow, TaskRow, utcnow
from taskqueue_server.db.task_base import Change
from taskqueue_server.errors import InvalidTransitionError
from taskqueue_server.state import allowed_transitions

__all__ = ["RETRYABLE_STATUSES", "RetryOperations"]

RETRYABLE_STATUSES = ("Failed", "Cancelled")


def _never_ran_because_of(row: TaskRow, upstream: uuid.UUID) -> bool:
    error = (row.result or {}).get("error")
    return isinstance(error, str) and error.startswith(f"dependency {upstream} ended")


class RetryOperations(ReportOperations):
    """The retry operation of the task store."""

    async def retry(
        self,
        task_id: uuid.UUID,
        *,
        before_commit: Callable[[list[Change]], object] | None = None,
    ) -> list[Change]:
        """Put a Failed or Cancelled task back in the queue, with its never-run dependents.

        Args:
            task_id: The task.
            before_commit: Called with the changes before they are committed (e.g. to build
                the response); if it raises, nothing is written.

        Returns:
            The retried task's change first, then its dependents'.

        Raises:
            NotFoundError: unknown task (or another tenant's).
            InvalidTransitionError: the task is not Failed or Cancelled, or is a workflow task.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._locked(session, task_id)
            if row.status not in RETRYABLE_STATUSES or row.current_phase:
                raise InvalidTransitionError(
                    row.status,
                    "Pending",
                    allowed_transitions(row.status),
                    reason="only a Failed or Cancelled execution task can be retried",
                )
            self._restart(row, now)
            rows = [row, *await self._restart_dependents(session, row.id, now)]
            await session.flush()
            changes = await self._changes(session, rows)
            if before_commit is not None:
                before_commit(changes)
            return changes

    @staticmethod
    def _restart(row: TaskRow, now: datetime) -> None:
        row.status = "Pending"
        row.attempts = 0
        row.result = None
        row.available_at = now
        row.lease_owner = None
        row.lease_token = None
        row.lease_expires_at = None
        row.updated_at = now

    async def _restart_dependents(
        self, session: AsyncSession, task_id: uuid.UUID, now: datetime
    ) -> list[TaskRow]:
        restarted: list[TaskRow] = []
        frontier = [task_id]
        while frontier:
            upstream = frontier.pop()
            query = (
                select(TaskRow)
                .join(TaskDependencyRow, TaskDependencyRow.task_id == TaskRow.id)
                .where(TaskDependencyRow.depends_on_id == upstream, TaskRow.status == "Failed")
            )
            if self._skip_locked:
                query = query.with_for_update(of=TaskRow)
            for dependent in (await session.scalars(query)).all():
                owned = self.scope.owns(dependent.tenant_id, dependent.project_id)
                if owned and _never_ran_because_of(dependent, upstream):
                    self._restart(dependent, now)
                    restarted.append(dependent)
                    frontier.append(dependent.id)
        return restarted
