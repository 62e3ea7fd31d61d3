"""Connection-pool hygiene for services: test only the connections that sat idle.

SQLAlchemy's ``pool_pre_ping`` tests every connection at every checkout; with asyncpg that
is three round trips (BEGIN, an empty statement, ROLLBACK) in front of each request's own
statements. A connection that served a request a moment ago is alive, so
:func:`ping_idle_connections` pings only those idle for longer than a threshold; a dead
one is then replaced before the request sees it.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["ping_idle_connections"]

_IDLE_SINCE = "api_core.idle_since"


def ping_idle_connections(engine: AsyncEngine, idle_seconds: float = 1.0) -> None:
    """Before a checkout, ping the connection if it was idle longer than ``idle_seconds``.

    Use it instead of ``pool_pre_ping=True``. A connection whose ping fails is discarded and
    the pool hands out another (a fresh one when the server restarted), as with
    ``pool_pre_ping``; a connection that was in use less than ``idle_seconds`` ago is handed
    out untested, so under load no ping is sent at all.

    Args:
        engine: The engine whose pool to guard.
        idle_seconds: How long a connection may rest and still be trusted without a ping.
    """
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # a new connection, or one in use a moment ago
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool catches this, discards the connection and checks out another.
            raise DisconnectionError(f"pooled connection failed its ping: {exc!r}") from exc
