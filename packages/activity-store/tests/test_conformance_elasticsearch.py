"""The backend conformance suite on the Elasticsearch-compatible server, plus ES specifics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from elasticsearch import AsyncElasticsearch

from activity_store.backends.elasticsearch import ElasticsearchBackend
from activity_store.interfaces import StorageBackend
from activity_store.testing import BackendConformance, BackendMaker


@pytest.fixture
async def es_client(elasticsearch_url: str) -> AsyncIterator[AsyncElasticsearch]:
    client = AsyncElasticsearch(elasticsearch_url)
    yield client
    await client.close()


class TestElasticsearchBackend(BackendConformance):
    @pytest.fixture
    def make_backend(self, es_client: AsyncElasticsearch, es_index_prefix: str) -> BackendMaker:
        async def make(suffix: str) -> StorageBackend:
            backend = ElasticsearchBackend(es_client, namespace=f"{es_index_prefix}{suffix}")
            await backend.setup()
            return backend

        return make
