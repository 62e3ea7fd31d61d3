"""Task storage: create, read, list, update, cancel, the workflow phases, delete; the lease
operations come from :class:`~taskqueue_server.db.leases.LeaseOperations`, the workers' reports
from :class:`~taskqueue_server.db.lease_reports.ReportOperations` and retry from
:class:`~taskqueue_server.db.task_retry.RetryOperations`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from taskqueue_server.db.cursor import Keyset
from taskqueue_server.db.queue_stats import StatsOperations
from taskqueue_server.db.schema import TaskDependencyRow, TaskRow, utcnow
from taskqueue_server.db.task_base import (
    NULLABLE_FIELDS,
    PLAIN_FIELDS,
    Change,
    StoredTask,
    event_for,
    phase_entry,
    task_wire,
)
from taskqueue_server.db.task_insert import insert_task_row
from taskqueue_server.db.task_retry import RetryOperations
from taskqueue_server.errors import ForbiddenError, NotFoundError
from taskqueue_server.state import PHASE_ORDER, PRIORITY_RANK, check_transition, next_phase

__all__ = ["BeforeCommit", "Change", "StoredTask", "TaskStore"]

BeforeCommit = Callable[[list[Change]], object]
"""Called with the changes before they are committed (e.g. to build the response): when it
raises, nothing is written."""


class TaskStore(RetryOperations, StatsOperations):
    """Every database operation on tasks.

    Args:
        sessions: The session factory bound to the server's engine.
        dialect: The engine's dialect name; ``"postgresql"`` enables ``SKIP LOCKED``.
        readers: Sessions for reads; ``sessions`` when omitted.
    """

    # --- create / read -------------------------------------------------------------------

    def _new_row(self, data: Mapping[str, Any], now: datetime) -> TaskRow:
        task_type = str(data.get("task_type") or "Simple")
        status = data.get("status") or ("Planning" if task_type == "Workflow" else "Pending")
        priority = str(data.get("priority") or "Normal")
        row = TaskRow(
            id=uuid.uuid4(),
            tenant_id=self.scope.tenant,
            priority=priority,
            priority_rank=PRIORITY_RANK.get(priority, 1),
            project_id=data.get("project_id"),
            status=str(status),
            meta=dict(data.get("metadata") or {}),
            created_at=now,
            updated_at=now,
            available_at=now,
            attempts=0,
            phases=[],
            result=None,
            retry_attempts=3,
            retry_delay=30.0,
            ai_reviews_required=3,
            ai_reviews_completed=0,
        )
        for name in PLAIN_FIELDS:
            if data.get(name) is not None:
                setattr(row, name, data[name])
        row.task_type = task_type
        row.acceptance_criteria = list(data.get("acceptance_criteria") or [])
        row.environment = dict(data.get("environment") or {})
        row.secret_environment = dict(data.get("secret_environment") or {})
        if row.status in PHASE_ORDER:
            row.current_phase = row.status
            row.phases = [phase_entry(row.status, now)]
        return row

    async def create_many(
        self, items: Sequence[Mapping[str, Any]], *, before_commit: BeforeCommit | None = None
    ) -> list[StoredTask]:
        """Create tasks in one transaction (all or none), in this store's tenant.

        Args:
            items: Field dicts with the contract's names (``metadata``, ``dependencies``...);
                ids must be UUID objects.
            before_commit: Called with the new tasks (as ``task.created`` changes) before
                they are written; if it raises, nothing is.

        Raises:
            NotFoundError: a project or dependency id does not exist (in this tenant).
            ForbiddenError: the key is restricted to projects and an item names none.
            ConflictError: a dependency would form a cycle.
        """
        now = utcnow()
        scope = self.scope
        if scope.projects is not None and any(not i.get("project_id") for i in items):
            raise ForbiddenError(
                "this API key is restricted to some projects; give each task a project_id "
                "among them"
            )
        if len(items) == 1 and not items[0].get("dependencies") and not items[0].get("project_id"):
            # The common POST: one INSERT, nothing to check first. A single statement is
            # atomic by itself, so it runs without the BEGIN and COMMIT round trips.
            row = self._new_row(items[0], now)
            single = StoredTask(row, [])
            if before_commit is not None:
                before_commit([Change(single, "task.created")])
            await insert_task_row(self._single_statement_engine, row)
            return [single]
        async with self._sessions.begin() as session:
            created: list[StoredTask] = []
            projects_seen: set[uuid.UUID] = set()
            for data in items:
                project_id = data.get("project_id")
                if project_id is not None and project_id not in projects_seen:
                    await self._check_project(session, project_id)
                    projects_seen.add(project_id)
                row = self._new_row(data, now)
                session.add(row)
                deps = list(dict.fromkeys(data.get("dependencies") or []))
                if deps:  # a new task has no dependency rows yet, so only these need writing
                    await session.flush()
                    await self._set_dependencies(session, row.id, deps)
                created.append(StoredTask(row, sorted(deps, key=str)))
            await session.flush()
            if before_commit is not None:
                before_commit([Change(t, "task.created") for t in created])
            return created

    async def get(self, task_id: uuid.UUID) -> StoredTask:
        """Return one task.

        Raises:
            NotFoundError: no task has that id.
        """
        async with self._readers() as session:
            row = await self._load(session, task_id)
            return (await self._stored(session, [row]))[0]

    async def get_wire(self, task_id: uuid.UUID) -> dict[str, Any]:
        """Return one task as its wire dict (the hot read path).

        One statement, no ORM session or objects (see :mod:`taskqueue_server.db.task_read`).

        Raises:
            NotFoundError: no task has that id.
        """
        scope = self.scope
        found = await self._reader.get(task_id)
        if found is None or not scope.owns(found[0]["tenant_id"], found[0]["project_id"]):
            raise NotFoundError("task", task_id)  # ^ tenant filter
        fields, dependencies = found
        return task_wire(SimpleNamespace(**fields, meta=fields["metadata"]), dependencies)

    async def page(
        self,
        where: Sequence[ColumnElement[bool]],
        limit: int,
        offset: int = 0,
        after: Keyset | None = None,
        count_cap: int | None = None,
    ) -> tuple[list[StoredTask], int | None, bool]:
        """Return a page of tasks in ``(created_at, id)`` order, the total, and whether more
        follow.

        The order is total (ids are unique) and puts new tasks at the end, so pages already
        read do not shift while tasks are inserted. With ``after`` (a keyset cursor) the page
        starts after that row through the ``(created_at, id)`` index, whatever its depth, and
        the total is not counted (None): counting every matching row would cost each page what
        the whole list does. With ``count_cap`` the count stops at ``count_cap + 1`` rows, so
        a total above the cap reads as ``count_cap + 1`` ("more than the cap") and the first
        page of a huge list costs what a small one does.
        """
        condition = and_(self._tenant_where(), *where)
        query = select(TaskRow).order_by(TaskRow.created_at, TaskRow.id).limit(limit + 1)
        async with self._readers() as session:
            total = None
            if after is None:
                counting = select(func.count()).select_from(TaskRow).where(condition)
                if count_cap is not None:
                    capped = select(TaskRow.id).where(condition).limit(count_cap + 1)
                    counting = select(func.count()).select_from(capped.subquery())
                total = await session.scalar(counting)
                query = query.where(condition).offset(offset)
            else:
                query = query.where(condition, after.after())
            rows = list((await session.scalars(query)).all())
            more = len(rows) > limit
            stored = await self._stored(session, rows[:limit])
            return stored, None if total is None else int(total), more

    # --- changes -------------------------------------------------------------------------

    async def update(
        self,
        task_id: uuid.UUID,
        changes: Mapping[str, Any],
        *,
        before_commit: BeforeCommit | None = None,
    ) -> list[Change]:
        """Apply the fields that were set; a status change must be an allowed transition.

        Args:
            task_id: The task.
            changes: Contract field names and their new values.
            before_commit: Called with the changes before they are committed; if it raises,
                nothing is written.

        Raises:
            NotFoundError: unknown task, project or dependency.
            InvalidTransitionError: the status change is not allowed.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._locked(session, task_id)
            changed: list[Change] = []
            for name in PLAIN_FIELDS:
                if name in changes and (changes[name] is not None or name in NULLABLE_FIELDS):
                    setattr(row, name, changes[name])
            if "metadata" in changes and changes["metadata"] is not None:
                row.meta = dict(changes["metadata"])
            if changes.get("priority") is not None:
                row.priority = str(changes["priority"])
                row.priority_rank = PRIORITY_RANK.get(row.priority, 1)
            if "project_id" in changes:
                await self._check_project(session, changes["project_id"])
                row.project_id = changes["project_id"]
            if changes.get("dependencies") is not None:
                await self._set_dependencies(session, row.id, changes["dependencies"])
            event = "task.updated"
            status = changes.get("status")
            if status is not None and status != row.status:
                check_transition(row.status, str(status))
                event = event_for(str(status))
                self._enter_status(row, str(status), now)
                if status in ("Failed", "Cancelled"):
                    changed += await self._changes(
                        session, await self._fail_dependents(session, row.id, status, now)
                    )
            row.updated_at = now
            await session.flush()
            result = [Change((await self._stored(session, [row]))[0], event), *changed]
            if before_commit is not None:
                before_commit(result)
            return result

    async def cancel(
        self,
        task_id: uuid.UUID,
        reason: str | None = None,
        *,
        before_commit: BeforeCommit | None = None,
    ) -> list[Change]:
        """Cancel a task in any non-final status (a running worker learns it at its heartbeat);
        tasks waiting on it fail. One transaction, the row locked, so a report racing the
        cancel either lands first (and the cancel is refused) or finds the task cancelled.

        Raises:
            NotFoundError: unknown task.
            InvalidTransitionError: the task already finished.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._locked(session, task_id)
            check_transition(row.status, "Cancelled")
            self._enter_status(row, "Cancelled", now)
            if reason:
                row.result = {**(row.result or {}), "error": f"cancelled: {reason}"}
            row.updated_at = now
            waiting = await self._fail_dependents(session, row.id, "Cancelled", now)
            await session.flush()
            changed = await self._changes(session, waiting)
            result = [Change((await self._stored(session, [row]))[0], "task.cancelled"), *changed]
            if before_commit is not None:
                before_commit(result)
            return result

    async def advance_phase(
        self,
        task_id: uuid.UUID,
        documentation: str | None = None,
        artifacts: Sequence[str] | None = None,
        *,
        before_commit: BeforeCommit | None = None,
    ) -> list[Change]:
        """Move a workflow task to its next phase, recording the finished phase's output.

        In AIReview each call records one completed review; the task moves to Finalized with
        the call that completes the ``ai_reviews_required``-th review.

        Raises:
            InvalidTransitionError: not in a workflow phase, or already Finalized.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._locked(session, task_id)
            target = next_phase(row.status)
            if row.status == "AIReview":
                row.ai_reviews_completed = min(
                    row.ai_reviews_completed + 1, max(row.ai_reviews_required, 1)
                )
                if row.ai_reviews_completed < row.ai_reviews_required:
                    target = row.status
            phases = list(row.phases or [])
            if phases:
                last = dict(phases[-1])
                if documentation is not None:
                    last["documentation"] = documentation
                if artifacts is not None:
                    last["artifacts"] = list(artifacts)
                phases[-1] = last
            row.phases = phases
            if target != row.status:
                self._enter_status(row, target, now)
            if target == "Finalized":
                row.phases = [
                    *row.phases[:-1],
                    {**row.phases[-1], "completed_at": now.isoformat()},
                ]
            row.updated_at = now
            await session.flush()
            result = [Change((await self._stored(session, [row]))[0], "task.updated")]
            if before_commit is not None:
                before_commit(result)
            return result

    async def delete(self, task_id: uuid.UUID) -> list[Change]:
        """Delete a task; tasks that depended on it no longer wait for it.

        Returns:
            The task as it was (``task.deleted``), then every task that depended on it
            (``task.updated``: its ``dependencies`` no longer name the deleted task).

        Raises:
            NotFoundError: unknown task.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._load(session, task_id)
            [gone] = await self._stored(session, [row])
            waiting = select(TaskDependencyRow.task_id).where(
                TaskDependencyRow.depends_on_id == task_id
            )
            found = await session.scalars(select(TaskRow).where(TaskRow.id.in_(waiting)))
            dependents = found.all()
            await session.delete(row)  # the dependency rows go with it (ON DELETE CASCADE)
            for dependent in dependents:
                dependent.updated_at = now
            await session.flush()
            updated = await self._stored(session, dependents)
        return [Change(gone, "task.deleted"), *(Change(t, "task.updated") for t in updated)]
