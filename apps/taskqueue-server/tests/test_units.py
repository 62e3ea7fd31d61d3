"""Small pieces: SSRF guard, in-process limiter, API keys, idempotency store, settings, CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from platform_core.errors import ConfigurationError
from taskqueue_server.db.apikeys import ApiKeyStore
from taskqueue_server.db.engine import create_engine, session_factory
from taskqueue_server.db.idempotency import IdempotencyStore, Reservation, StoredResponse
from taskqueue_server.errors import (
    IdempotencyConflictError,
    IdempotencyInProgressError,
    UnsafeWebhookURLError,
)
from taskqueue_server.migrate import current_revision, head_revision
from taskqueue_server.settings import ServerSettings
from taskqueue_server.ssrf import check_webhook_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "ftp://example.com/hook",
    ],
)
async def test_ssrf_guard_refuses_non_public_targets(url: str) -> None:
    with pytest.raises(UnsafeWebhookURLError):
        await check_webhook_url(url, allow_private=False)


async def test_ssrf_guard_allows_loopback_when_configured() -> None:
    await check_webhook_url("http://127.0.0.1:9/hook", allow_private=True)
    await check_webhook_url("http://8.8.8.8/hook", allow_private=False)


async def test_api_keys_are_hashed_and_revocable(engine: AsyncEngine) -> None:
    store = ApiKeyStore(session_factory(engine))
    created = await store.create("ci")
    async with engine.connect() as conn:
        stored = (await conn.exec_driver_sql("SELECT key_hash FROM api_keys")).scalar_one()
    assert created.key not in stored
    assert await store.verify(created.key) == created.id
    assert await store.verify(created.key + "x") is None
    assert await store.verify("not-a-key") is None
    assert await store.revoke(created.id)
    assert await store.verify(created.key) is None


async def test_idempotency_store_reserves_replays_and_conflicts(engine: AsyncEngine) -> None:
    store = IdempotencyStore(session_factory(engine), ttl_seconds=60)
    first = await store.begin("caller", "k", "fp1")
    assert isinstance(first, Reservation)
    with pytest.raises(IdempotencyInProgressError):
        await store.begin("caller", "k", "fp1")
    with pytest.raises(IdempotencyConflictError):
        await store.begin("caller", "k", "fp2")
    assert isinstance(await store.begin("other-caller", "k", "fp1"), Reservation)
    await store.finish(first, StoredResponse(201, '{"id": 1}'))
    assert await store.begin("caller", "k", "fp1") == StoredResponse(201, '{"id": 1}')
    with pytest.raises(IdempotencyConflictError):
        await store.begin("caller", "k", "fp2")


async def test_idempotency_key_of_a_failed_or_abandoned_request_runs_again(
    engine: AsyncEngine,
) -> None:
    store = IdempotencyStore(session_factory(engine), ttl_seconds=60, lock_seconds=0.2)
    failed = await store.begin("caller", "k", "fp")
    assert isinstance(failed, Reservation)
    await store.release(failed)
    abandoned = await store.begin("caller", "k", "fp")
    assert isinstance(abandoned, Reservation)
    await asyncio.sleep(0.3)  # past the lock time: as if the abandoning process had died
    taken_over = await store.begin("caller", "k", "fp")
    assert isinstance(taken_over, Reservation)
    await store.finish(abandoned, StoredResponse(201, "late"))  # no longer its entry
    await store.finish(taken_over, StoredResponse(201, "current"))
    assert await store.begin("caller", "k", "fp") == StoredResponse(201, "current")


async def test_expired_idempotency_entry_is_taken_over(engine: AsyncEngine) -> None:
    store = IdempotencyStore(session_factory(engine), ttl_seconds=0)
    first = await store.begin("caller", "k", "fp1")
    assert isinstance(first, Reservation)
    await store.finish(first, StoredResponse(201, "old"))
    again = await store.begin("caller", "k", "fp2")  # expired: even another body may reuse it
    assert isinstance(again, Reservation)


def test_bad_setting_names_the_variable() -> None:
    with pytest.raises(ConfigurationError) as info:
        ServerSettings.load(database_url="mysql://x/y")
    assert info.value.setting == "TASKQUEUE_DATABASE_URL"


async def test_migrate_and_create_api_key_cli_on_postgres(
    run_cli: Callable[..., subprocess.CompletedProcess[str]], postgres_url: str
) -> None:
    database_url = postgres_url
    env = {**os.environ, "TASKQUEUE_DATABASE_URL": database_url, "TASKQUEUE_LOG_LEVEL": "ERROR"}
    migrated = run_cli(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert head_revision() in migrated.stdout
    made = run_cli(env, "create-api-key", "--name", "ops", "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["name"] == "ops"
    assert created["key"].startswith("tq_")
    eng = create_engine(database_url)
    try:
        assert await current_revision(eng) == head_revision()
        assert await ApiKeyStore(session_factory(eng)).verify(created["key"]) is not None
    finally:
        await eng.dispose()
    bad = run_cli({**env, "TASKQUEUE_DATABASE_URL": "nope://"}, "migrate")
    assert bad.returncode == 1
    assert "TASKQUEUE_DATABASE_URL" in bad.stderr
