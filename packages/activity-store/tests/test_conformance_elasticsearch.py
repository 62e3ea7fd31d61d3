"""The backend conformance suite on the Elasticsearch-compatible server, plus ES specifics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from elasticsearch import AsyncElasticsearch

from activity_store.backends.elasticsearch import ElasticsearchBackend
from activity_store.interfaces import StorageBackend
from activity_store.ld import AS_CONTEXT, AS_NAMESPACE
from activity_store.query import Query
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


async def test_indices_of_an_earlier_version_are_upgraded_and_still_match(
    es_client: AsyncElasticsearch, es_index_prefix: str
) -> None:
    namespace = f"{es_index_prefix}old"
    old_fields = {
        name: {"type": kind}
        for name, kind in (("id", "keyword"), ("type", "keyword"), ("words", "keyword"))
    }
    await es_client.indices.create(
        index=f"{namespace}-objects",
        mappings={
            "dynamic": False,
            "properties": {**old_fields, "object": {"type": "object", "enabled": False}},
        },
    )
    old = {"id": "https://example.org/old", "type": "Note", "@context": AS_CONTEXT}
    # As the previous version wrote it: the type as given, not expanded.
    await es_client.index(
        index=f"{namespace}-objects",
        id=old["id"],
        document={"id": old["id"], "type": ["Note"], "words": [], "object": old},
        refresh=True,
    )
    backend = ElasticsearchBackend(es_client, namespace=namespace)
    await backend.setup()
    mapping = await es_client.indices.get_mapping(index=f"{namespace}-objects")
    assert "formerType" in mapping[f"{namespace}-objects"]["mappings"]["properties"]
    await backend.put({**old, "id": "https://example.org/new"})
    for spelling in ("Note", f"{AS_NAMESPACE}Note"):
        page = await backend.query(Query(type=spelling))
        assert [item["id"] for item in page["items"]] == [
            "https://example.org/new",
            "https://example.org/old",
        ]
