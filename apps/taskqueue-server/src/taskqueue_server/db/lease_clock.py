"""The service clock: a lease does not run out while no server is running.

A worker keeps a lease by heartbeating it through the server. While every server is down
(or cannot reach the database) no heartbeat can arrive, so without this clock a server
coming back after an outage longer than the lease would hand every running task to another
worker, although its worker is alive, has perhaps finished it, and is waiting to report.

Every server ticks the shared ``service_clock`` row a few times a minute. A tick that finds
the row older than ``stall`` seconds has found an outage of that length: in the same
transaction it moves the expiry of every lease that was still valid when the service was
last seen forward by the outage, so each gets back the time it lost. With several replicas
the row is shared, so one replica restarting while others run credits nothing; the row is
locked for the tick, so a gap is credited once, however many replicas start together.

Until a server's first tick has succeeded its claims expire no lease (see
:meth:`LeaseClock.current`), so a claim arriving before the catch-up cannot take a lease
that the catch-up would have kept.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskqueue_server.db.schema import ServiceClockRow, TaskRow, utcnow

__all__ = ["LeaseClock"]

_NAME = "leases"


class LeaseClock:
    """Ticks the shared service clock and credits outages to running leases.

    Args:
        sessions: Sessions on the task database.
        interval: Seconds between ticks.
        lock_rows: Lock the clock row (PostgreSQL); SQLite's ``BEGIN IMMEDIATE`` already
            excludes every other writer.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], interval: float, *, lock_rows: bool
    ) -> None:
        self._sessions = sessions
        self.interval = interval
        self.stall = max(5.0, 3 * interval)
        self._lock_rows = lock_rows
        self._ticked_at: float | None = None

    def current(self) -> bool:
        """True while this server's last tick is recent: its claims may expire leases."""
        return self._ticked_at is not None and time.monotonic() - self._ticked_at < self.stall

    async def tick(self) -> timedelta:
        """Mark the service as seen now; returns the outage credited to leases (often 0)."""
        now = utcnow()
        async with self._sessions.begin() as session:
            query = select(ServiceClockRow).where(ServiceClockRow.name == _NAME)
            if self._lock_rows:
                query = query.with_for_update()
            row = await session.scalar(query)
            gap = timedelta(0)
            if row is None:
                session.add(ServiceClockRow(name=_NAME, seen_at=now))
            else:
                if (now - row.seen_at).total_seconds() > self.stall:
                    gap = now - row.seen_at
                    await self._credit(session, row.seen_at, gap)
                row.seen_at = max(row.seen_at, now)
        self._ticked_at = time.monotonic()
        return gap

    async def _credit(self, session: AsyncSession, seen_at: datetime, gap: timedelta) -> None:
        """Give every lease still valid at ``seen_at`` the ``gap`` back."""
        query = select(TaskRow.id, TaskRow.lease_expires_at).where(
            TaskRow.status == "Running", TaskRow.lease_expires_at > seen_at
        )
        if self._lock_rows:
            query = query.with_for_update(of=TaskRow)
        rows = (await session.execute(query)).all()
        if rows:
            await session.execute(
                update(TaskRow),
                [{"id": task_id, "lease_expires_at": expiry + gap} for task_id, expiry in rows],
            )
