"""The backend conformance suite on PostgreSQL, plus PostgreSQL specifics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from activity_store.backends.postgres import PostgresBackend
from activity_store.interfaces import StorageBackend
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
