"""Engine factory: one place that knows how SQLite and PostgreSQL differ at connect time."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

from api_core.dbpool import ping_idle_connections
from platform_core.errors import ConfigurationError

__all__ = [
    "async_url",
    "create_engine",
    "is_sqlite",
    "read_session_factory",
    "session_factory",
    "single_statement_session_factory",
]

_READ_ONLY = "taskqueue_read_only"


def async_url(url: str) -> str:
    """Return ``url`` with the async driver this app uses for its database.

    ``sqlite:///x.db`` becomes ``sqlite+aiosqlite:///x.db`` and ``postgresql://...`` becomes
    ``postgresql+asyncpg://...``; URLs that already name those drivers pass unchanged.

    Raises:
        ConfigurationError: for any other database.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ConfigurationError(
        f"unsupported database {backend!r}; use sqlite:///path.db or postgresql://...",
        setting="TASKQUEUE_DATABASE_URL",
    )


def is_sqlite(engine: AsyncEngine) -> bool:
    """True when ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for ``url``.

    On SQLite every transaction starts with ``BEGIN IMMEDIATE``, so the writer lock is taken up
    front: a claim's read-then-update runs with no other writer in between, which is what keeps
    one task from being leased twice. The connection waits up to 30 s for the lock.

    Args:
        url: A ``sqlite://`` or ``postgresql://`` URL (drivers are filled in).
        **kwargs: Passed to :func:`sqlalchemy.ext.asyncio.create_async_engine`.
    """
    full = async_url(url)
    if make_url(full).get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 30})
        # Connections are reset by the "reset" listener below instead.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(full, **kwargs)
        sync_engine = engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from the driver so BEGIN IMMEDIATE below is ours.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL keeps the database consistent after a crash of the process;
            # only a power loss can drop the last commits. It saves one fsync per commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Readers (see read_session_factory) run each statement on its own, taking no
            # writer lock, so they never queue behind a writer.
            if not conn.get_execution_options().get(_READ_ONLY, False):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        @event.listens_for(sync_engine, "reset")
        def _on_reset(dbapi_conn: Any, _record: Any, _state: Any) -> None:
            # A connection goes back to the pool with no transaction open: roll back only when
            # the driver says one is, which spares reads (that never BEGIN) a round trip to
            # the driver's thread. sqlite3 reports the real state: we issue BEGIN ourselves.
            if dbapi_conn.driver_connection.in_transaction:
                dbapi_conn.rollback()

        return engine
    # Unique per server process: the wakeup trigger names it, so a process can ignore the
    # notifications of its own commits (see taskqueue_server.wakeup).
    connect_args = kwargs.setdefault("connect_args", {})
    connect_args.setdefault("server_settings", {}).setdefault(
        "application_name", f"taskqueue-{uuid.uuid4().hex[:12]}"
    )
    kwargs.setdefault("pool_size", 32)
    kwargs.setdefault("max_overflow", 32)
    # Hand out the connection returned last: the few a steady load needs stay warm, and the
    # rest rest (a FIFO pool cycles through all 32, so each sits idle past the ping
    # threshold below and costs a ping at its next checkout).
    kwargs.setdefault("pool_use_lifo", True)
    engine = create_async_engine(full, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        # Only connections idle for over a second are tested before use: asyncpg's ping is
        # three round trips, too many to put in front of every request.
        ping_idle_connections(engine)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (rows are returned to routes)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads only: each statement runs in its own implicit transaction (no
    BEGIN/ROLLBACK round trips, no SQLite writer lock), so reads never wait for a writer.
    A reader that runs two statements may see a commit land between them."""
    options: dict[str, Any] = {_READ_ONLY: True}
    if engine.dialect.name != "sqlite":
        options["isolation_level"] = "AUTOCOMMIT"  # no BEGIN/ROLLBACK round trips
    return async_sessionmaker(engine.execution_options(**options), expire_on_commit=False)


def single_statement_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for a write that is one statement: it commits on its own (no BEGIN/COMMIT
    round trips), which is atomic because a single statement always is. Never use them for
    a write of two or more statements, nor for one that reads before it writes."""
    options: dict[str, Any] = {_READ_ONLY: True}  # on SQLite: no BEGIN IMMEDIATE either
    if engine.dialect.name != "sqlite":
        options["isolation_level"] = "AUTOCOMMIT"
    return async_sessionmaker(engine.execution_options(**options), expire_on_commit=False)
