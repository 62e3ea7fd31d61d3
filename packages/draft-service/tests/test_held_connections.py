"""The connections the sends keep checked out between requests (PostgreSQL)."""

from __future__ import annotations

import pytest
from draft_test_helpers import thread
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from draft_service.db import create_engine, upgrade
from draft_service.db.held import HeldConnections
from draft_service.db.intake import KnownThreads, add_messages
from draft_service.models import SendMessagesRequest


def _engine(postgres_url: str, pool_size: int = 5) -> AsyncEngine:
    return create_engine(
        postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1), pool_size=pool_size
    )


async def _pid(held: HeldConnections) -> int:
    async with held.connect() as (_, driver):
        return int(await driver.fetchval("SELECT pg_backend_pid()"))


async def test_a_send_reuses_the_connection_the_last_one_used_and_close_returns_it(
    postgres_url: str,
) -> None:
    engine = _engine(postgres_url)
    held = HeldConnections(engine, keep=1)
    try:
        async with held.connect() as (first, _), held.connect() as (second, _):
            assert first is not second
        assert held.kept == 1  # the second went back to the pool: keep=1
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        assert await _pid(held) == await _pid(held)
        await held.close()
        assert held.kept == 0
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await held.close()
        await engine.dispose()


async def test_a_connection_whose_use_raised_or_left_a_transaction_open_is_not_kept(
    postgres_url: str,
) -> None:
    engine = _engine(postgres_url)
    held = HeldConnections(engine, keep=4)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            async with held.connect():
                raise RuntimeError("boom")
        assert held.kept == 0
        async with held.connect() as (conn, _):
            await conn.begin()
        assert held.kept == 0
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_kept_connection_idle_too_long_is_pinged_and_replaced_when_dropped(
    postgres_url: str,
) -> None:
    """As the pool does for its idle connections: the next send after a pause gets a working
    connection even when the server dropped the kept one meanwhile."""
    engine = _engine(postgres_url)
    held = HeldConnections(engine, keep=2, idle_seconds=0.0)  # every reuse is "after a pause"
    try:
        dropped = await _pid(held)
        async with engine.connect() as admin:
            # With a timeout, it returns once the backend is gone (PostgreSQL 14+).
            gone = text("SELECT pg_terminate_backend(:p, 10000)")
            assert (await admin.execute(gone, {"p": dropped})).scalar_one() is True
        assert await _pid(held) != dropped
        assert held.kept == 1
    finally:
        await held.close()
        await engine.dispose()


async def test_sends_keep_connections_and_a_failed_one_is_replaced(postgres_url: str) -> None:
    """Through ``add_messages``: the first send of threads reuses one kept connection; a send
    that fails on the driver invalidates it, and the next send opens a sound one."""
    engine = _engine(postgres_url, pool_size=1)
    held = HeldConnections(engine, keep=1)
    connects: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda *_: connects.append(1))
    try:
        await upgrade(engine)
        for i in range(3):
            req = SendMessagesRequest.model_validate(thread("ann", f"t{i}", ("m1", "A", "hi")))
            assert (await add_messages(engine, req, KnownThreads(), held)).version == 1
        before = len(connects)
        good = SendMessagesRequest.model_validate(thread("ann", "bad", ("m1", "A", "hi")))
        message = good.messages[0].model_copy(update={"message_content": "h\x00i"})
        bad = good.model_copy(update={"messages": [message]})  # not validated: as if it were
        with pytest.raises(Exception, match="0x00"):
            await add_messages(engine, bad, KnownThreads(), held)
        assert held.kept == 0
        again = SendMessagesRequest.model_validate(thread("ann", "t0", ("m2", "A", "more")))
        assert (await add_messages(engine, again, KnownThreads(), held)).version == 2
        assert len(connects) == before + 1
        assert held.kept == 1
    finally:
        await held.close()
        await engine.dispose()


def test_keep_must_not_be_negative(postgres_url: str) -> None:
    with pytest.raises(ValueError, match="keep must be 0 or more, got -1"):
        HeldConnections(_engine(postgres_url), keep=-1)
