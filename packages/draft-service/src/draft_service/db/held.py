"""Connections the send path keeps between requests instead of returning them to the pool.

Checking a connection out of SQLAlchemy's async pool and back (``engine.connect()``, its
``close()`` and the driver connection lookup) costs CPU in three greenlet switches, the pool's
events and its reset on return: measured at 0.2 to 0.5 ms of the 1.2 to 1.4 ms of CPU an
in-process ``POST /send-messages/`` took (2-core AMD EPYC). :class:`HeldConnections` keeps the
connections the sends just used, checked out, and hands the most recent one to the next send.

The pool's guarantee stays: :func:`api_core.dbpool.ping_idle_connections` tests a connection
idle for over a second before handing it out, so a held connection idle that long is pinged
before use too, and replaced (from the pool) when the ping fails. A connection whose use
raised is never kept: it goes back to the pool, which drops it when it was invalidated.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["HeldConnections"]


class HeldConnections:
    """Up to ``keep`` connections of ``engine`` kept checked out between uses.

    Each kept connection is unavailable to the rest of the pool while it waits, so ``keep`` is
    small next to the pool size. Call :meth:`close` before disposing of the engine.

    Args:
        engine: Where connections come from (and go back to beyond ``keep``).
        keep: Connections kept at most; 0 makes :meth:`connect` plain ``engine.connect()``.
        idle_seconds: A kept connection idle this long is pinged before its next use (the
            threshold of :func:`api_core.dbpool.ping_idle_connections`).
    """

    def __init__(self, engine: AsyncEngine, keep: int = 8, idle_seconds: float = 1.0) -> None:
        if keep < 0:
            raise ValueError(f"keep must be 0 or more, got {keep}")
        self.engine = engine
        self._keep = keep
        self._idle_seconds = idle_seconds
        self._kept: list[tuple[AsyncConnection, Any, float]] = []

    @property
    def kept(self) -> int:
        """Connections now kept, waiting for a use."""
        return len(self._kept)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[tuple[AsyncConnection, Any]]:
        """A connection and its driver (e.g. asyncpg) connection (``None`` when ``keep`` is 0:
        looking it up costs a greenlet switch), outside any transaction.

        Leave it outside any transaction too: it is kept for the next use when the block
        exits normally (up to ``keep``), else returned to the pool.
        """
        conn, driver = await self._take()
        try:
            yield conn, driver
        except BaseException:
            await conn.close()
            raise
        if len(self._kept) < self._keep and not conn.invalidated and not conn.in_transaction():
            self._kept.append((conn, driver, time.monotonic()))
        else:
            await conn.close()

    async def _take(self) -> tuple[AsyncConnection, Any]:
        while self._kept:
            conn, driver, since = self._kept.pop()  # the most recently used
            if time.monotonic() - since < self._idle_seconds:
                return conn, driver
            try:
                await conn.exec_driver_sql("SELECT 1")
                await conn.rollback()
            except Exception as exc:  # a dropped connection: replaced, as the pool would
                await conn.invalidate(exc)
                await conn.close()
                continue
            return conn, driver
        conn = await self.engine.connect()
        if not self._keep:
            return conn, None
        try:
            raw = await conn.get_raw_connection()
        except BaseException:
            await conn.close()
            raise
        return conn, raw.driver_connection

    async def close(self) -> None:
        """Return every kept connection to the pool."""
        kept, self._kept = self._kept, []
        for conn, _, _ in kept:
            await conn.close()
