"""TASKQUEUE_BOOTSTRAP_API_KEY: stored (hashed) at serve start, once, by any number of API
processes and restarts; never logged; a malformed or clashing key stops the start."""

from __future__ import annotations

import asyncio
import logging
import secrets

import httpx
import pytest
from sqlalchemy import func, select

from platform_core.errors import ConfigurationError
from taskqueue_server.app import create_server_app
from taskqueue_server.db.apikeys import ApiKeyStore, hash_key
from taskqueue_server.db.engine import create_engine, session_factory
from taskqueue_server.db.schema import ApiKeyRow
from taskqueue_server.settings import ServerSettings

KEY = f"tq_b00757ea9c01_{secrets.token_urlsafe(32)}"
_OTHER = f"tq_0123456789ab_{secrets.token_urlsafe(32)}"


async def _start_api(database_url: str, key: str = KEY) -> int:
    """Run one API process's start and stop; return the status of an authenticated call."""
    settings = ServerSettings.load(database_url=database_url, bootstrap_api_key=key)
    app = create_server_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tq") as http:
            resp = await http.get("/api/tasks", headers={"Authorization": f"Bearer {key}"})
    return resp.status_code


async def _rows(database_url: str) -> list[ApiKeyRow]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.scalars(select(ApiKeyRow))).all())
    finally:
        await engine.dispose()


async def test_bootstrap_key_is_stored_once_across_processes_and_restarts(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert await _start_api(database_url) == 200
        assert await _start_api(database_url) == 200  # a restart
    (row,) = await _rows(database_url)
    assert (row.name, row.prefix) == ("bootstrap", "b00757ea9c01")
    assert row.key_hash == hash_key(KEY)
    logged = "\n".join(f"{r.getMessage()} {r.msg!r}" for r in caplog.records)
    assert KEY not in logged
    assert KEY.rsplit("_", 1)[1] not in logged
    events = [r.msg.get("event") for r in caplog.records if isinstance(r.msg, dict)]
    assert events.count("bootstrap API key stored") == 1
    assert events.count("bootstrap API key already present") == 1


async def test_api_processes_starting_together_store_the_key_once(database_url: str) -> None:
    assert await _start_api(database_url, _OTHER) == 200  # migrates; another key exists
    engines = [create_engine(database_url) for _ in range(4)]  # one per API process
    try:
        stored = await asyncio.gather(
            *(ApiKeyStore(session_factory(e)).ensure(KEY, "bootstrap") for e in engines)
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(stored) == [False, False, False, True]
    assert sorted(r.name for r in await _rows(database_url)) == ["bootstrap", "bootstrap"]
    assert await _start_api(database_url) == 200


async def test_a_revoked_bootstrap_key_stays_revoked_after_a_restart(sqlite_url: str) -> None:
    assert await _start_api(sqlite_url) == 200
    engine = create_engine(sqlite_url)
    try:
        store = ApiKeyStore(session_factory(engine))
        key_id = await store.verify(KEY)
        assert key_id is not None
        assert await store.revoke(key_id)
    finally:
        await engine.dispose()
    assert await _start_api(sqlite_url) == 401


async def test_a_key_clashing_with_another_keys_prefix_stops_the_start(sqlite_url: str) -> None:
    assert await _start_api(sqlite_url) == 200
    other = f"tq_b00757ea9c01_{secrets.token_urlsafe(32)}"
    with pytest.raises(ConfigurationError, match="TASKQUEUE_BOOTSTRAP_API_KEY") as caught:
        await _start_api(sqlite_url, other)
    assert other not in str(caught.value)
    (row,) = await _rows(sqlite_url)
    assert row.key_hash == hash_key(KEY)
    assert await _count(sqlite_url) == 1


async def _count(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("bad", ["tq_short_abc", "not-a-key", "tq__" + "x" * 40])
def test_a_malformed_bootstrap_key_is_a_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="TASKQUEUE_BOOTSTRAP_API_KEY") as caught:
        ServerSettings.load(bootstrap_api_key=bad)
    assert bad not in str(caught.value)


def test_the_bootstrap_key_is_hidden_in_the_settings() -> None:
    settings = ServerSettings.load(bootstrap_api_key=KEY)
    assert KEY not in repr(settings)
    assert KEY not in settings.model_dump_json()
