"""The backend conformance suite on PostgreSQL, plus PostgreSQL specifics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from activity_store import ActivityStoreError
from activity_store.backends.postgres import PostgresBackend
from activity_store.interfaces import StorageBackend
from activity_store.ld import ensure_context
from activity_store.testing import BackendConformance, BackendMaker


@pytest.fixture
async def pg_pool(postgres_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(postgres_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


class TestPostgresBackend(BackendConformance):
    @pytest.fixture
    def make_backend(self, postgres_url: str, pg_pool: asyncpg.Pool) -> BackendMaker:
        async def make(suffix: str) -> StorageBackend:
            backend = PostgresBackend(postgres_url, namespace=f"t{suffix}", pool=pg_pool)
            await backend.setup()
            return backend

        return make


def _note(i: int) -> dict[str, Any]:
    return ensure_context({"id": f"https://example.org/n/{i}", "type": "Note", "name": f"n {i}"})


async def test_concurrent_setups_migrate_once_to_the_newest_revision(postgres_url: str) -> None:
    backends = [PostgresBackend(postgres_url, namespace="shared") for _ in range(3)]
    await asyncio.gather(*(backend.setup() for backend in backends))
    try:
        version = await backends[0].pool.fetchval(
            'SELECT version_num FROM "shared".alembic_version'
        )
        assert version == "0002"
        await backends[0].put(_note(1))
        assert await backends[2].get(_note(1)["id"]) == _note(1)
    finally:
        for backend in backends:
            await backend.teardown()


async def test_reads_in_parallel_on_its_own_pool(postgres_url: str) -> None:
    backend = PostgresBackend(postgres_url, namespace="own", pool_size=3)
    await backend.setup()
    try:
        await backend.put_many([_note(i) for i in range(40)])
        found = await asyncio.gather(*(backend.get(_note(i)["id"]) for i in range(40)))
        assert found == [_note(i) for i in range(40)]
        assert await backend.get("https://example.org/n/none") is None
    finally:
        await backend.teardown(delete_data=True)
    # the schema is gone; setting up again starts empty
    again = PostgresBackend(postgres_url, namespace="own")
    await again.setup()
    try:
        assert await again.get(_note(1)["id"]) is None
    finally:
        await again.teardown(delete_data=True)


async def test_unreachable_server_is_an_activity_store_error() -> None:
    backend = PostgresBackend("postgresql://postgres@127.0.0.1:1/none", namespace="x")
    with pytest.raises(ActivityStoreError, match="PostgreSQL") as info:
        await backend.setup()
    assert info.value.__cause__ is not None


def test_long_namespaces_are_refused() -> None:
    with pytest.raises(ValueError, match="63 bytes"):
        PostgresBackend("postgresql://x@h/db", namespace="n" * 64)
