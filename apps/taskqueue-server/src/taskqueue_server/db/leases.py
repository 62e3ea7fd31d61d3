"""The worker lease: claim, heartbeat, complete, fail, expiry, and the queue's statistics.

The invariant: at no instant do two workers hold a valid lease on one task. A lease is valid
while the task is ``Running`` and its ``lease_token`` is the one the claim handed out. Every
change of the lease is one guarded statement per row (or a row locked first), so two
transactions can never both take the same lease:

* :meth:`LeaseOperations._expire_statement` hands expired leases back (``Running`` and past
  ``lease_expires_at`` is re-checked by the UPDATE itself, so a lease another claim has just
  granted is never expired again);
* :meth:`LeaseOperations._claim_statement` leases runnable rows; on PostgreSQL one
  ``WITH picked AS (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ... RETURNING``, on SQLite the
  same UPDATE inside a ``BEGIN IMMEDIATE`` transaction (see :mod:`taskqueue_server.db.engine`)
  that no other writer can interleave with;
* heartbeat, and the reports (complete, fail, and their batch form, in
  :mod:`taskqueue_server.db.lease_reports`), lock the row (``FOR UPDATE`` on PostgreSQL) and
  act only when the caller's token is the task's current one; otherwise :class:`LeaseError`
  (409).

Those two statement builders are the one place that decides which rows a worker may lease.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    Table,
    Update,
    bindparam,
    case,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from taskqueue_server.db.schema import TaskDependencyRow, TaskRow, utcnow
from taskqueue_server.db.task_base import (
    TASK_COLUMNS,
    Change,
    StoredTask,
    TaskStoreBase,
    task_from_row,
)
from taskqueue_server.errors import LeaseError, NotFoundError

__all__ = ["EXPIRED_MESSAGE", "LeaseOperations", "new_lease_token", "same_token"]

EXPIRED_MESSAGE = "the lease expired without a heartbeat (the worker died or lost the server)"
_EXPIRE_BATCH = 500
_TABLE: Table = TaskRow.__table__  # type: ignore[assignment]  # a mapped class's table
_COLUMNS = _TABLE.c
_LINKS = TaskDependencyRow.__table__.c
# One alias for every claim: a fresh alias per statement costs milliseconds of CPU (its
# columns are adapted anew, and the statement's cache key cannot be reused).
_DEP_TASK = _TABLE.alias("dep_task")
_CLAIM_NOW: BindParameter[datetime] = bindparam(
    "claim_now", type_=TaskRow.__table__.c.available_at.type
)
# Claim statements by (SKIP LOCKED, tenant, project restriction, project filter); bounded
# because every tenant (and project-restricted key) adds one.
_CLAIM_STATEMENTS: dict[tuple[bool, str, frozenset[uuid.UUID] | None, bool], Update] = {}
_CLAIM_STATEMENTS_MAX = 1024
_EXPIRE_STATEMENTS: dict[bool, Update] = {}  # by SKIP LOCKED
_HAS_DEPENDENCY = select(_LINKS.task_id).where(_LINKS.task_id == _COLUMNS.id)
# Whether any lease has run out (the index on status and lease_expires_at answers it).
_EXPIRED_ONE = (
    select(_COLUMNS.id)
    .where(
        _COLUMNS.status == "Running",
        _COLUMNS.lease_expires_at < bindparam("expire_now", type_=_COLUMNS.lease_expires_at.type),
    )
    .limit(1)
)


def new_lease_token() -> str:
    """A fresh, unguessable lease token."""
    return secrets.token_urlsafe(24)


class LeaseOperations(TaskStoreBase):
    """The operations workers and the expiry sweep use."""

    def _runnable(self, now: datetime | ColumnElement[datetime]) -> Select[Any]:
        c, dep_task = _COLUMNS, _DEP_TASK.c
        blocked = exists(
            select(_LINKS.task_id)
            .join(_DEP_TASK, dep_task.id == _LINKS.depends_on_id)
            .where(_LINKS.task_id == c.id, dep_task.status != "Completed")
        )
        return select(c.id).where(c.status == "Pending", c.available_at <= now, ~blocked)

    # --- the two statements that move leases ----------------------------------------------

    def _expire_statement(self) -> Update:
        """Hand back leases past their expiry: Pending while attempts remain, else Failed.

        The UPDATE's own WHERE re-checks ``Running`` and the expiry, so on PostgreSQL a row
        whose lease a concurrent claim renewed (and committed) no longer matches, and rows
        locked by another transaction are skipped rather than waited for.

        The time is the bind parameter ``expire_now``; the statement is built once (every
        claim runs it, and building it anew cost about a millisecond of CPU).
        """
        cached = _EXPIRE_STATEMENTS.get(self._skip_locked)
        if cached is not None:
            return cached
        # Core columns, not the ORM's: the statement then runs without the ORM's per-call
        # compile step (about a millisecond of CPU on every claim) and returns bare ids.
        c = _COLUMNS
        now = bindparam("expire_now", type_=c.lease_expires_at.type)
        expired = (c.status == "Running", c.lease_expires_at < now)
        stale = select(c.id).where(*expired).limit(_EXPIRE_BATCH)
        if self._skip_locked:
            stale = stale.with_for_update(skip_locked=True)
        statement = (
            update(_TABLE)
            .where(c.id.in_(stale.scalar_subquery()), *expired)
            .values(
                status=case((c.attempts > c.retry_attempts, "Failed"), else_="Pending"),
                lease_owner=None,
                lease_token=None,
                lease_expires_at=None,
                available_at=now,
                updated_at=now,
            )
            .returning(c.id)
        )
        _EXPIRE_STATEMENTS[self._skip_locked] = statement
        return statement

    def _claim_statement(self, project_id: uuid.UUID | None) -> Update:
        """Lease up to ``limit`` runnable rows, highest priority then oldest, in one UPDATE.

        The candidates are a CTE: PostgreSQL evaluates it exactly once (a plain
        ``IN (SELECT ... LIMIT n)`` may be re-run and lease more than n rows), and its
        ``FOR UPDATE SKIP LOCKED`` keeps concurrent claims off each other's rows.

        The statement takes the claim's values as bind parameters (:meth:`_claim_params`)
        and is built once per tenant scope and project filter: building it and its cache key
        anew cost milliseconds of CPU on every claim.
        """
        scope = self.scope
        key = (self._skip_locked, scope.tenant, scope.projects, project_id is not None)
        cached = _CLAIM_STATEMENTS.get(key)
        if cached is not None:
            return cached
        # Core, not the ORM: the ORM's bulk UPDATE rebuilds the statement (and its cache
        # key, ~10% of the server's CPU in the worker benchmark) on every execution.
        c = _COLUMNS
        candidates = (
            self._runnable(_CLAIM_NOW)
            .order_by(c.priority_rank.desc(), c.created_at, c.id)
            .limit(bindparam("claim_limit", type_=Integer))
        )
        if project_id is not None:
            candidates = candidates.where(
                c.project_id == bindparam("claim_project", type_=c.project_id.type)
            )
        candidates = candidates.where(self._tenant_where(c))  # tenant filter
        if self._skip_locked:
            candidates = candidates.with_for_update(skip_locked=True, of=_TABLE)
        picked = candidates.cte("picked")
        statement = (
            update(_TABLE)
            .where(c.id.in_(select(picked.c.id)), c.status == "Pending")
            .values(
                status="Running",
                lease_owner=bindparam("claim_worker", type_=c.lease_owner.type),
                lease_token=bindparam("claim_token", type_=c.lease_token.type),
                lease_expires_at=bindparam("claim_expires", type_=c.lease_expires_at.type),
                attempts=c.attempts + 1,
                updated_at=_CLAIM_NOW,
            )
            # Whether the row has dependencies at all: most have none, and then the claim
            # needs no second query for them.
            .returning(
                *(column for _, column in TASK_COLUMNS),
                exists(_HAS_DEPENDENCY).label("has_dependencies"),
            )
        )
        if len(_CLAIM_STATEMENTS) >= _CLAIM_STATEMENTS_MAX:
            _CLAIM_STATEMENTS.clear()
        _CLAIM_STATEMENTS[key] = statement
        return statement

    @staticmethod
    def _claim_params(
        now: datetime,
        worker_id: str,
        token: str,
        limit: int,
        lease_seconds: float,
        project_id: uuid.UUID | None,
    ) -> dict[str, Any]:
        """The values of :meth:`_claim_statement`'s bind parameters."""
        params: dict[str, Any] = {
            "claim_now": now,
            "claim_limit": limit,
            "claim_worker": worker_id,
            "claim_token": token,
            "claim_expires": now + timedelta(seconds=lease_seconds),
        }
        if project_id is not None:
            params["claim_project"] = project_id
        return params

    async def expire_leases(self) -> list[Change]:
        """Return expired leases to the queue (or fail them when out of attempts)."""
        now = utcnow()
        async with self._sessions.begin() as session:
            return await self._expire(session, now)

    async def _expire(self, session: AsyncSession, now: datetime) -> list[Change]:
        statement = self._expire_statement()
        ids = list((await session.execute(statement, {"expire_now": now})).scalars())
        if not ids:
            return []
        # The rows stay locked by the UPDATE until the transaction ends.
        loaded = select(TaskRow).where(TaskRow.id.in_(ids)).order_by(TaskRow.id)
        rows = list((await session.scalars(loaded.execution_options(populate_existing=True))).all())
        more: list[TaskRow] = []
        for row in rows:
            row.result = {**(row.result or {}), "error": EXPIRED_MESSAGE}
            if row.status == "Failed":
                more += await self._fail_dependents(session, row.id, "Failed", now)
        await session.flush()
        return await self._changes(session, [*rows, *more])

    async def claim(
        self,
        worker_id: str,
        limit: int,
        lease_seconds: float,
        project_id: uuid.UUID | None = None,
        *,
        expire: bool = True,
    ) -> tuple[list[StoredTask], list[Change]]:
        """Lease up to ``limit`` runnable tasks to ``worker_id``, highest priority then oldest.

        Every task leased by one call carries the same new ``lease_token`` (a lease is the
        pair of task and token).

        Args:
            worker_id: The claimer.
            limit: The most tasks to lease.
            lease_seconds: Lease length.
            project_id: Only this project's tasks, when set.
            expire: Expire stale leases (first on SQLite; on PostgreSQL when the claim came
                up short, then claiming again) (off until the service clock is current, see
                :mod:`taskqueue_server.db.lease_clock`).

        Returns:
            The leased tasks, and the changes made by expiring stale leases on the way.
        """
        now = utcnow()
        stmt = self._claim_statement(project_id)
        params = self._claim_params(
            now, worker_id, new_lease_token(), limit, lease_seconds, project_id
        )
        if self._skip_locked:
            # PostgreSQL: the claim is one statement, so it runs on its own (autocommit: no
            # BEGIN/COMMIT round trips). Only a claim that found fewer tasks than it asked
            # for looks for leases that ran out (they are handed back and claimed at once);
            # a busy queue's claims leave them to the next short claim or the sweep.
            async with self._single_statement() as session:
                leased = await self._leased(session, stmt, params)
            if len(leased) >= limit or not expire or not await self._lease_ran_out(now):
                return leased, []
            # The leases this transaction hands back stay locked by it until it has claimed
            # (another claimer's expiry skips them): exactly one claimer gets each.
            params["claim_limit"] = limit - len(leased)
            async with self._sessions.begin() as session:
                expired = await self._expire(session, now)
                if expired:
                    leased += await self._leased(session, stmt, params)
            leased.sort(key=lambda t: (-t.row.priority_rank, t.row.created_at, t.row.id))
            return leased, expired
        async with self._sessions.begin() as session:
            expired = await self._expire(session, now) if expire else []
            return await self._leased(session, stmt, params), expired

    async def _leased(
        self, session: AsyncSession, stmt: Update, params: dict[str, Any]
    ) -> list[StoredTask]:
        """Run the claim statement; the leased tasks, highest priority then oldest."""
        found = await session.execute(stmt, params)
        leased = [(task_from_row(values), bool(values.has_dependencies)) for values in found]
        if not leased:
            return []
        leased.sort(key=lambda pair: (-pair[0].priority_rank, pair[0].created_at, pair[0].id))
        deps = await self._deps(session, [row.id for row, has in leased if has])
        return [StoredTask(row, sorted(deps.get(row.id, []), key=str)) for row, _ in leased]

    async def _lease_ran_out(self, now: datetime) -> bool:
        """Whether some lease has run out: one read, without a transaction."""
        async with self._readers() as session:
            return await session.scalar(_EXPIRED_ONE, {"expire_now": now}) is not None

    @staticmethod
    async def _stored_and_dependents(
        session: AsyncSession, row: TaskRow
    ) -> tuple[StoredTask, bool]:
        """The task with its dependencies, and whether some task waits on it: one query
        where ``_stored`` and :meth:`has_dependents` would be two round trips."""
        links = await session.execute(
            select(TaskDependencyRow.task_id, TaskDependencyRow.depends_on_id).where(
                or_(TaskDependencyRow.task_id == row.id, TaskDependencyRow.depends_on_id == row.id)
            )
        )
        deps: list[uuid.UUID] = []
        waited_on = False
        for task_id, depends_on in links:
            if task_id == row.id:
                deps.append(depends_on)
            else:
                waited_on = True
        return StoredTask(row, sorted(deps, key=str)), waited_on

    async def has_dependents(self, task_id: uuid.UUID) -> bool:
        """True when some task waits on ``task_id``."""
        async with self._readers() as session:
            found = await session.scalar(
                select(TaskDependencyRow.task_id)
                .where(TaskDependencyRow.depends_on_id == task_id)
                .limit(1)
            )
        return found is not None

    async def _locked(self, session: AsyncSession, task_id: uuid.UUID) -> TaskRow:
        """The row, locked until the transaction ends (PostgreSQL; SQLite's BEGIN IMMEDIATE
        already excludes every other writer); another tenant's task (or, for a key restricted
        to projects, another project's) is unknown, as in ``_load``."""
        scope = self.scope
        row = await session.get(
            TaskRow, task_id, populate_existing=True, with_for_update=self._skip_locked or None
        )
        if row is None or not scope.owns(row.tenant_id, row.project_id):  # tenant filter
            raise NotFoundError("task", task_id)
        return row

    @staticmethod
    def _lost(row: TaskRow, worker_id: str) -> LeaseError:
        return LeaseError(
            f"lease lost: task {row.id} is {row.status} and this lease (worker {worker_id}) is "
            "no longer its current one; stop working on it (it was cancelled, or the lease "
            "expired and was handed back or re-issued)",
            task_status=row.status,
        )

    def _held(self, row: TaskRow, worker_id: str, token: str) -> TaskRow:
        """``row`` (locked by :meth:`_locked`), when ``token`` is its current lease."""
        if row.status != "Running" or not same_token(row.lease_token, token):
            raise self._lost(row, worker_id)
        return row

    async def heartbeat(
        self, task_id: uuid.UUID, worker_id: str, token: str, lease_seconds: float
    ) -> tuple[datetime, bool]:
        """Extend the lease ``token`` names.

        A lease whose time ran out but that nobody took back yet is still the task's current
        one, so its heartbeat renews it.

        Returns:
            The new expiry, and True when the task was cancelled while this lease was held
            (the worker should stop the command).

        Raises:
            NotFoundError: unknown task.
            LeaseError: ``token`` is not the task's current lease.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._locked(session, task_id)
            if row.status == "Cancelled" and same_token(row.lease_token, token):
                return now, True
            row = self._held(row, worker_id, token)
            expires = now + timedelta(seconds=lease_seconds)
            row.lease_expires_at = expires
            return expires, False


def same_token(stored: str | None, given: str) -> bool:
    """Compare tokens in constant time; a task with no lease matches nothing."""
    return stored is not None and secrets.compare_digest(stored, given)
