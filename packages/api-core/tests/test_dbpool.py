"""ping_idle_connections: idle pooled connections are tested, busy ones are not."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from api_core.dbpool import ping_idle_connections


def _asyncpg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def test_a_connection_killed_while_idle_is_replaced_before_use(postgres_url: str) -> None:
    engine = create_async_engine(_asyncpg(postgres_url), pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_seconds=0.05)
    try:
        async with engine.connect() as conn:
            first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        killer = create_async_engine(_asyncpg(postgres_url))
        async with killer.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await killer.dispose()
        await asyncio.sleep(0.1)
        async with engine.connect() as conn:
            second = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second != first
    finally:
        await engine.dispose()


async def test_a_busy_connection_is_not_pinged(postgres_url: str) -> None:
    engine = create_async_engine(_asyncpg(postgres_url), pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_seconds=60)
    statements: list[str] = []
    from sqlalchemy import event

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(_c: object, _cur: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    pings = 0
    dialect = engine.sync_engine.dialect
    real_ping = dialect.do_ping

    def counting_ping(dbapi_conn: object) -> bool:
        nonlocal pings
        pings += 1
        return real_ping(dbapi_conn)

    dialect.do_ping = counting_ping  # type: ignore[method-assign]
    try:
        for _ in range(5):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert pings == 0
        assert statements == ["SELECT 1"] * 5
    finally:
        await engine.dispose()
