"""Async engine and session factory for SQLite (default) or PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from sqlalchemy import Connection, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from api_core.dbpool import ping_idle_connections
from platform_core.logging import get_logger

__all__ = ["POOL_MAX", "POOL_SIZE", "create_engine", "open_pool", "session_factory"]

_log = get_logger("draft_service.db")

POOL_SIZE = 10
"""Connections :func:`open_pool` opens at start."""

POOL_MAX = 30
"""Connections a PostgreSQL pool opens at most (more requests wait for one); each stays open
once opened. Connections opened under load and closed again when returned (SQLAlchemy's
overflow) made the request that opened one wait for a new server process, over and over: 110
to 215 connections opened during 1,500 to 2,048 sends at half saturation (64 connections)."""


def create_engine(
    url: str, *, pre_ping: bool = True, pool_size: int = POOL_MAX, max_overflow: int = 0
) -> AsyncEngine:
    """Create the async engine for ``url``.

    SQLite gets WAL journaling, foreign keys and a busy timeout so the API and in-process jobs
    can write concurrently.

    Args:
        url: An async SQLAlchemy URL (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``).
        pre_ping: PostgreSQL: test a pooled connection that sat idle for over a second before
            handing it out (:func:`api_core.dbpool.ping_idle_connections`; a busy connection
            is trusted, sparing each request asyncpg's three-round-trip ping), so a connection
            the server dropped while idle never fails a request. Queue workers turn it off: a
            job whose statement meets a dropped connection fails that delivery only
            (SQLAlchemy then renews the whole pool) and is redelivered.
        pool_size: PostgreSQL: connections kept in the pool, opened on demand (see
            :data:`POOL_MAX`).
        max_overflow: PostgreSQL: connections opened beyond ``pool_size`` under load and
            closed again when returned.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            # Own the transactions (see _begin) instead of pysqlite's implicit ones.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
                # With WAL, NORMAL keeps the database consistent after a crash and skips
                # an fsync per commit; a power loss may lose the last commits only.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Connection) -> None:
            # Take the write lock up front: a read-then-write transaction cannot then fail
            # with "database is locked" when another writer got there first.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow)
    if pre_ping:
        ping_idle_connections(engine)
    return engine


async def open_pool(
    engine: AsyncEngine,
    count: int = POOL_SIZE,
    warm: Callable[[AsyncConnection], Awaitable[None]] | None = None,
) -> None:
    """Open ``count`` pooled connections now (PostgreSQL; SQLite opens its file cheaply).

    A connection costs the server a process and the client several round trips (TLS
    negotiation, start-up, authentication). Opened at start, they are not opened by the first
    burst of requests, which would otherwise wait for them. Only a head start: when the
    database cannot be reached, a warning is logged and connections open on demand (readiness
    reports the database).

    Args:
        engine: The engine whose pool to fill.
        count: Connections to open.
        warm: Run on each opened connection (e.g. the hot statements, so that their first
            run's cost is not paid by a request); a failure is a warning.
    """
    if engine.dialect.name != "postgresql":
        return
    try:
        async with contextlib.AsyncExitStack() as stack:
            conns = await asyncio.gather(
                *(stack.enter_async_context(engine.connect()) for _ in range(count))
            )
            if warm is not None:
                results = await asyncio.gather(*(warm(c) for c in conns), return_exceptions=True)
                for result in results:  # a cancellation is not a warm-up failure
                    if isinstance(result, BaseException) and not isinstance(result, Exception):
                        raise result
                failed = [r for r in results if isinstance(r, Exception)]
                if failed:
                    _log.warning("pool_not_warmed", error=repr(failed[0]), connections=len(failed))
    except (OSError, SQLAlchemyError) as exc:
        _log.warning("pool_not_opened", error=repr(exc), detail="connections open on demand")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
