"""Batched reports: the report and answer records, and the one-statement completion of
many leases on PostgreSQL.

A worker finishing tasks quickly reports them in batches (``POST /api/workers/report``).
Most reports of a batch are completions of leases still held; on PostgreSQL those are
applied by :meth:`BatchCompletions._complete_at_once`: one ``UPDATE ... FROM unnest(...)``
that runs on its own (no BEGIN/COMMIT round trips) and completes each row only while it is
``Running`` under the reported token, the same guard the locked-row path of
:mod:`taskqueue_server.db.lease_reports` applies. Whatever it did not complete is judged
there, report by report.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Table, Text, Update, bindparam, cast, exists, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from taskqueue_server.db.leases import LeaseOperations
from taskqueue_server.db.schema import TaskDependencyRow, TaskRow
from taskqueue_server.db.task_base import TASK_COLUMNS, Change, StoredTask, task_from_row

__all__ = ["BatchCompletions", "Outcome", "Report", "ReportAnswer"]

Outcome = Literal["complete", "fail", "release"]

_TABLE: Table = TaskRow.__table__  # type: ignore[assignment]  # a mapped class's table
_COLUMNS = _TABLE.c
_LINKS = TaskDependencyRow.__table__.c
_HAS_DEPENDENCY = select(_LINKS.task_id).where(_LINKS.task_id == _COLUMNS.id)
_WAITED_ON = select(_LINKS.task_id).where(_LINKS.depends_on_id == _COLUMNS.id)
# The completion statements (PostgreSQL) by tenant and project restriction; bounded because
# every tenant (and project-restricted key) adds one.
_COMPLETE_STATEMENTS: dict[tuple[str, frozenset[uuid.UUID] | None], Update] = {}
_COMPLETE_STATEMENTS_MAX = 1024


@dataclass(frozen=True)
class Report:
    """One lease's report.

    Attributes:
        task_id: The task.
        token: The lease's token.
        outcome: ``complete``, ``fail`` (one attempt counted) or ``release`` (not counted).
        result: The run's outcome (already made storable).
        runs: Runs made under this lease, for ``fail``.
    """

    task_id: uuid.UUID
    token: str
    outcome: Outcome
    result: Mapping[str, Any]
    runs: int = 1


@dataclass(frozen=True)
class ReportAnswer:
    """What became of one :class:`Report`.

    Attributes:
        task_id: The task.
        accepted: Recorded now, or earlier (a replay).
        status: The task's status now; None for an unknown (or another tenant's) task.
        lease_lost: The token is not the task's current lease.
        error: Why it was not accepted.
    """

    task_id: uuid.UUID
    accepted: bool
    status: str | None
    lease_lost: bool = False
    error: str | None = None


class BatchCompletions(LeaseOperations):
    """The one-statement completion of many leases (PostgreSQL)."""

    def _complete_statement(self) -> Update:
        """Complete every lease of a list whose token is current, in one UPDATE (PostgreSQL).

        The leases come as three arrays (``ids``, ``tokens`` and ``results`` as JSON text),
        so one statement, prepared once, serves any number of them. Like the locked-row
        path, the statement acts only on a ``Running`` row whose token is the one reported
        (re-checked on the row locked by the UPDATE), within the caller's tenant.
        """
        scope = self.scope
        key = (scope.tenant, scope.projects)
        cached = _COMPLETE_STATEMENTS.get(key)
        if cached is not None:
            return cached
        reported = (
            func.unnest(
                bindparam("ids", type_=ARRAY(_COLUMNS.id.type)),
                bindparam("tokens", type_=ARRAY(Text())),
                bindparam("results", type_=ARRAY(Text())),
            )
            .table_valued("id", "token", "result", name="reported")
            .render_derived()
        )
        # Core, not the ORM: the ORM's bulk UPDATE rebuilds the statement (and its cache
        # key) on every execution.
        c = _COLUMNS
        statement = (
            update(_TABLE)
            .where(
                c.id == reported.c.id,
                c.status == "Running",
                c.lease_token == reported.c.token,
                self._tenant_where(c),  # tenant filter
            )
            .values(
                status="Completed",
                result=cast(reported.c.result, _COLUMNS.result.type),
                lease_owner=None,
                lease_expires_at=None,
                updated_at=bindparam("now", type_=_COLUMNS.updated_at.type),
            )
            .returning(
                *(column for _, column in TASK_COLUMNS),
                exists(_HAS_DEPENDENCY).label("has_dependencies"),
                exists(_WAITED_ON).label("waited_on"),
            )
        )
        if len(_COMPLETE_STATEMENTS) >= _COMPLETE_STATEMENTS_MAX:
            _COMPLETE_STATEMENTS.clear()
        _COMPLETE_STATEMENTS[key] = statement
        return statement

    async def _complete_at_once(
        self, reports: Sequence[Report], now: datetime
    ) -> dict[int, tuple[ReportAnswer, Change]]:
        """PostgreSQL: apply the completions of ``reports`` whose lease is current with one
        statement on its own (autocommit: no BEGIN/COMMIT round trips).

        Only a completion of a task named once in the batch goes this way (so the order of
        the reports cannot matter). What the statement did not complete (a replay, a stale
        token, an unknown or another tenant's task) is judged afterwards on locked rows, as
        every other report.

        Returns:
            The answer and the change of each completed report, by its index in ``reports``.
        """
        named: dict[uuid.UUID, int] = {}
        for report in reports:
            named[report.task_id] = named.get(report.task_id, 0) + 1
        picked = {
            r.task_id: n
            for n, r in enumerate(reports)
            if r.outcome == "complete" and named[r.task_id] == 1
        }
        if not picked:
            return {}
        ordered = sorted(picked)  # rows locked in id order, as by the locked-row path
        params = {
            "ids": ordered,
            "tokens": [reports[picked[i]].token for i in ordered],
            "results": [json.dumps(dict(reports[picked[i]].result)) for i in ordered],
            "now": now,
        }
        async with self._single_statement() as session:
            found = await session.execute(self._complete_statement(), params)
            rows = [(task_from_row(v), v.has_dependencies, v.waited_on) for v in found]
            needs = [row.id for row, has, _ in rows if has]
            deps = await self._deps(session, needs) if needs else {}
        done: dict[int, tuple[ReportAnswer, Change]] = {}
        for row, _, waited_on in rows:
            stored = StoredTask(row, sorted(deps.get(row.id, []), key=str))
            change = Change(stored, "task.completed", unblocks=bool(waited_on))
            done[picked[row.id]] = (ReportAnswer(row.id, True, row.status), change)
        return done
