"""Elasticsearch specifics: mappings, membership ids, error wrapping, explicit index deletion."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from elasticsearch import AsyncElasticsearch

from activity_store import ActivityStore, ActivityStoreError
from activity_store.backends.elasticsearch import ElasticsearchBackend, membership_id
from activity_store.caches.memory import MemoryCache
from activity_store.query import Query
from platform_core.testing.services import free_port

NOTE = {"id": "https://example.org/notes/1", "type": "Note", "name": "hello"}


@pytest.fixture
async def backend(
    elasticsearch_url: str, es_index_prefix: str
) -> AsyncIterator[ElasticsearchBackend]:
    client = AsyncElasticsearch(elasticsearch_url)
    backend = ElasticsearchBackend(client, namespace=f"{es_index_prefix}es", owns_client=True)
    await backend.setup()
    yield backend
    await backend.teardown()


async def test_indices_have_explicit_mappings(backend: ElasticsearchBackend) -> None:
    mapping = await backend.client.indices.get_mapping(index=backend.objects_index)
    props = mapping[backend.objects_index]["mappings"]["properties"]
    for field in ("id", "type", "tag"):
        assert props[field]["type"] == "keyword"
    for field in ("name", "summary", "content"):
        assert props[field]["type"] == "text"
    for field in ("published", "updated"):
        assert props[field]["type"] == "date"
    coll = await backend.client.indices.get_mapping(index=backend.collections_index)
    assert coll[backend.collections_index]["mappings"]["properties"]["collection"] == {
        "type": "keyword"
    }


async def test_membership_documents_are_keyed_by_a_hash(backend: ElasticsearchBackend) -> None:
    await backend.add_member("https://example.org/c", NOTE, NOTE)
    doc_id = membership_id("https://example.org/c", NOTE["id"])
    assert len(doc_id) == 64
    found = await backend.client.get(index=backend.collections_index, id=doc_id)
    assert found["_source"]["member"] == NOTE
    assert await backend.get(NOTE["id"]) is None  # membership is not the canonical copy


async def test_setup_twice_and_teardown_keep_data(
    elasticsearch_url: str, es_index_prefix: str
) -> None:
    backend = ElasticsearchBackend(
        AsyncElasticsearch(elasticsearch_url), namespace=f"{es_index_prefix}keep", owns_client=True
    )
    async with ActivityStore(backend, MemoryCache(), namespace="keep") as store:
        await store.setup()
        await store.store(NOTE)
    again = ElasticsearchBackend(
        AsyncElasticsearch(elasticsearch_url), namespace=f"{es_index_prefix}keep", owns_client=True
    )
    async with ActivityStore(again, MemoryCache(), namespace="keep") as store:
        assert (await store.dereference(NOTE["id"]))["name"] == "hello"
        await again.delete_indices()
        assert not await again.client.indices.exists(index=again.objects_index)


async def test_unreachable_cluster_raises_activity_store_error() -> None:
    client = AsyncElasticsearch(f"http://127.0.0.1:{free_port()}", request_timeout=1, max_retries=0)
    backend = ElasticsearchBackend(client, namespace="nowhere", owns_client=True)
    try:
        with pytest.raises(ActivityStoreError, match="ES_URL") as info:
            await backend.put(NOTE)
        assert info.value.__cause__ is not None
        with pytest.raises(ActivityStoreError):
            await backend.query(Query(text="hello"))
    finally:
        await backend.teardown()


async def test_rejected_requests_raise_with_the_reason(backend: ElasticsearchBackend) -> None:
    # A memory cursor is not an Elasticsearch sort position: the server rejects it.
    await backend.put_many([NOTE, {**NOTE, "id": "https://example.org/notes/2"}])
    page = await backend.query(Query(size=1, sort="published"))
    assert "next" in page
    with pytest.raises(ActivityStoreError, match="rejected"):
        await backend.query(Query(size=1, sort="published", after="WyJ4Il0"))
