"""A worker's reports: complete, fail (or release), one lease at a time or many at once.

Each report locks the task's row (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
excludes every other writer) and acts only when the token is the task's current lease (see
:mod:`taskqueue_server.db.leases`). Reports are idempotent by token: the token stays on the
row after the report, so the same report again changes nothing and is answered as accepted.

:meth:`ReportOperations.report_many` applies many reports in one transaction: the rows are
locked with one query (in id order, so two batches cannot deadlock), each report is judged
on its own (a stale token is that item's answer, not an error of the batch), and the changes
are written with one flush. A worker finishing tasks quickly thus pays one request and a few
statements for a whole batch instead of four statements per task. On PostgreSQL the
completions of leases still held skip even that: one statement applies them all (see
:mod:`taskqueue_server.db.lease_batch`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from taskqueue_server.db.lease_batch import BatchCompletions, Report, ReportAnswer
from taskqueue_server.db.leases import same_token
from taskqueue_server.db.schema import TaskDependencyRow, TaskRow, utcnow
from taskqueue_server.db.task_base import Change, StoredTask
from taskqueue_server.errors import LeaseError, NotFoundError

__all__ = ["Report", "ReportAnswer", "ReportOperations"]


class ReportOperations(BatchCompletions):
    """Complete and fail, single and batched."""

    def _apply_complete(
        self, row: TaskRow, worker_id: str, token: str, result: Mapping[str, Any], now: datetime
    ) -> bool:
        """Mark the locked ``row`` Completed; False for a replay (nothing changed).

        Raises:
            LeaseError: ``token`` is not the task's current lease.
        """
        if row.status == "Completed" and same_token(row.lease_token, token):
            return False
        row = self._held(row, worker_id, token)
        row.result = dict(result)
        self._enter_status(row, "Completed", now)
        row.lease_token = token  # kept: recognises a replay of this report
        row.updated_at = now
        return True

    async def _apply_fail(
        self,
        session: AsyncSession,
        row: TaskRow,
        report: tuple[str, str, Mapping[str, Any], int, bool],
        now: datetime,
    ) -> tuple[str | None, list[TaskRow]]:
        """Record a failed (or released) run on the locked ``row``.

        Args:
            session: The transaction.
            row: The task's locked row.
            report: ``(worker_id, token, result, runs, requeue)``.
            now: The time of the report.

        Returns:
            The event to announce (None for a replay: nothing changed) and the dependents
            failed with it.

        Raises:
            LeaseError: ``token`` is not the task's current lease.
        """
        worker_id, token, result, runs, requeue = report
        if row.status in ("Pending", "Failed") and same_token(row.lease_token, token):
            return None, []
        row = self._held(row, worker_id, token)
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
        row.lease_token = token  # kept until the next claim: recognises a replay
        row.updated_at = now
        return event, more

    async def complete(
        self, task_id: uuid.UUID, worker_id: str, token: str, result: Mapping[str, Any]
    ) -> tuple[StoredTask, list[Change]]:
        """Record a successful run and mark the task Completed.

        Idempotent by token: the same report again (its answer was lost, say) gets the task
        back and changes nothing.

        Returns:
            The task, and the changes to announce (none for a replay).

        Raises:
            NotFoundError: unknown task.
            LeaseError: ``token`` is not the task's current lease.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._locked(session, task_id)
            if not self._apply_complete(row, worker_id, token, result, now):
                return (await self._stored(session, [row]))[0], []
            await session.flush()
            stored, unblocks = await self._stored_and_dependents(session, row)
            return stored, [Change(stored, "task.completed", unblocks=unblocks)]

    async def fail(
        self,
        task_id: uuid.UUID,
        worker_id: str,
        token: str,
        result: Mapping[str, Any],
        runs: int = 1,
        requeue: bool = False,
    ) -> tuple[StoredTask, list[Change]]:
        """Record a failed run. The server decides what follows: back to Pending, runnable
        again ``retry_delay`` seconds from now, while attempts remain; otherwise Failed (and
        tasks waiting on it fail too).

        Idempotent by token: the same report again changes nothing and gets the task back.

        Args:
            task_id: The task.
            worker_id: The worker holding the lease.
            token: The lease's token.
            result: The run's outcome.
            runs: Runs made under this lease (1; older workers retried locally).
            requeue: Hand the task back to Pending at once without counting the run (a worker
                shutting down before the run finished).

        Returns:
            The task, and the changes to announce (none for a replay).

        Raises:
            NotFoundError: unknown task.
            LeaseError: ``token`` is not the task's current lease.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._locked(session, task_id)
            event, more = await self._apply_fail(
                session, row, (worker_id, token, result, runs, requeue), now
            )
            if event is None:
                return (await self._stored(session, [row]))[0], []
            await session.flush()
            stored = (await self._stored(session, [row]))[0]
            return stored, [Change(stored, event), *await self._changes(session, more)]

    async def report_many(
        self, worker_id: str, reports: Sequence[Report]
    ) -> tuple[list[ReportAnswer], list[Change]]:
        """Apply ``reports`` in order, in one transaction (on PostgreSQL, the completions of
        leases still held go first, in one statement of their own: see
        :mod:`taskqueue_server.db.lease_batch`; should the rest then fail, repeating the
        batch finds them done and answers them as replays).

        Each report is judged on its own: an unknown (or another tenant's) task and a token
        that is not the task's current lease are that report's answer; the others are still
        recorded. A task named twice is judged twice (the second report of the same lease is
        a replay).

        Returns:
            One answer per report, in order, and the changes to announce.
        """
        now = utcnow()
        done: dict[int, tuple[ReportAnswer, Change]] = {}
        if self._skip_locked:
            done = await self._complete_at_once(reports, now)
        rest = [r for n, r in enumerate(reports) if n not in done]
        answers, changes = await self._report_each(worker_id, rest, now) if rest else ([], [])
        if not done:
            return answers, changes
        judged = iter(answers)
        in_order = [done[n][0] if n in done else next(judged) for n in range(len(reports))]
        return in_order, [*(change for _, change in done.values()), *changes]

    async def _report_each(
        self, worker_id: str, reports: Sequence[Report], now: datetime
    ) -> tuple[list[ReportAnswer], list[Change]]:
        """Apply ``reports`` in order on rows locked in one transaction (see
        :meth:`report_many`)."""
        scope = self.scope
        ids = list(dict.fromkeys(r.task_id for r in reports))
        async with self._sessions.begin() as session:
            query = (
                select(TaskRow)
                .where(TaskRow.id.in_(ids))
                .order_by(TaskRow.id)
                .execution_options(populate_existing=True)
            )
            if self._skip_locked:
                query = query.with_for_update(of=TaskRow)
            rows = {
                row.id: row
                for row in (await session.scalars(query)).all()
                if scope.owns(row.tenant_id, row.project_id)  # tenant filter
            }
            answers: list[ReportAnswer] = []
            events: dict[uuid.UUID, str] = {}
            more: list[TaskRow] = []
            for report in reports:
                row = rows.get(report.task_id)
                if row is None:
                    error = str(NotFoundError("task", report.task_id))
                    answers.append(ReportAnswer(report.task_id, False, None, error=error))
                    continue
                try:
                    event = await self._apply_one(session, row, worker_id, report, now, more)
                except LeaseError as exc:
                    answers.append(
                        ReportAnswer(row.id, False, row.status, lease_lost=True, error=str(exc))
                    )
                    continue
                if event is not None:
                    events[row.id] = event
                answers.append(ReportAnswer(row.id, True, row.status))
            if not events:
                return answers, []
            await session.flush()
            changes = await self._report_changes(session, [rows[i] for i in events], events)
            return answers, [*changes, *await self._changes(session, more)]

    async def _apply_one(
        self,
        session: AsyncSession,
        row: TaskRow,
        worker_id: str,
        report: Report,
        now: datetime,
        more: list[TaskRow],
    ) -> str | None:
        """Apply one report to its locked row; the event to announce, None for a replay."""
        if report.outcome == "complete":
            changed = self._apply_complete(row, worker_id, report.token, report.result, now)
            return "task.completed" if changed else None
        requeue = report.outcome == "release"
        args = (worker_id, report.token, report.result, report.runs, requeue)
        event, failed = await self._apply_fail(session, row, args, now)
        more += failed
        return event

    @staticmethod
    async def _report_changes(
        session: AsyncSession, rows: list[TaskRow], events: Mapping[uuid.UUID, str]
    ) -> list[Change]:
        """The changed rows with their dependencies, each marked ``unblocks`` when it
        completed and some task waits on it: one query for the whole batch."""
        ids = [row.id for row in rows]
        links = await session.execute(
            select(TaskDependencyRow.task_id, TaskDependencyRow.depends_on_id).where(
                or_(TaskDependencyRow.task_id.in_(ids), TaskDependencyRow.depends_on_id.in_(ids))
            )
        )
        deps: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
        waited_on: set[uuid.UUID] = set()
        for task_id, depends_on in links:
            if task_id in deps:
                deps[task_id].append(depends_on)
            if depends_on in deps:
                waited_on.add(depends_on)
        changes = []
        for row in rows:
            event = events[row.id]
            stored = StoredTask(row, sorted(deps[row.id], key=str))
            unblocks = event == "task.completed" and row.id in waited_on
            changes.append(Change(stored, event, unblocks=unblocks))
        return changes
