"""SyncActivityStore: the blocking API over memory, and over Elasticsearch and Redis."""

from __future__ import annotations

import pytest

from activity_store import ActivityStoreError, ObjectNotFound, SyncActivityStore
from activity_store.backends.memory import MemoryBackend
from activity_store.caches.memory import MemoryCache
from activity_store.caches.redis import RedisCache
from platform_core.redis import RedisSettings, create_redis


def _note(i: int) -> dict[str, object]:
    return {"id": f"https://example.org/notes/{i}", "type": "Note", "name": f"note number {i}"}


def test_every_method_works_across_hundreds_of_calls() -> None:
    with SyncActivityStore(MemoryBackend(), MemoryCache(), namespace="t") as store:
        for i in range(300):
            assert store.store(_note(i)) == _note(i)["id"]
            assert store.dereference(_note(i)["id"])["name"] == f"note number {i}"
        assert store.store_many([_note(1000), _note(1001)]) == [
            _note(1000)["id"],
            _note(1001)["id"],
        ]
        page = store.query(text="number", size=5)
        assert page["totalItems"] == 302
        assert len(store.query(text="number", size=5, after=page["next"])["items"]) == 5
        store.add_to_collection(_note(1)["id"], "https://example.org/c")
        assert store.query(collection="https://example.org/c")["items"][0]["id"] == _note(1)["id"]
        assert store.remove_from_collection(_note(1)["id"], "https://example.org/c") is True
        tombstone = store.convert_to_tombstone(_note(2)["id"])
        assert store.dereference(_note(2)["id"]) == tombstone
        with pytest.raises(ObjectNotFound):
            store.dereference("https://example.org/none")


def test_closed_store_says_so() -> None:
    store = SyncActivityStore(MemoryBackend(), MemoryCache(), namespace="t")
    store.store(_note(1))
    store.close()
    store.close()
    with pytest.raises(ActivityStoreError, match="closed"):
        store.dereference(_note(1)["id"])


def test_sync_store_on_elasticsearch_and_redis(
    monkeypatch: pytest.MonkeyPatch,
    elasticsearch_url: str,
    es_index_prefix: str,
    redis_url: str,
    redis_key_prefix: str,
) -> None:
    monkeypatch.setenv("ACTIVITY_STORE_BACKEND", "elasticsearch")
    monkeypatch.setenv("ES_URL", elasticsearch_url)
    cache = RedisCache(
        create_redis(RedisSettings(url=redis_url)),
        namespace=f"{redis_key_prefix}as",
        owns_client=True,
    )
    with SyncActivityStore(cache=cache, namespace=f"{es_index_prefix}sync") as store:
        for i in range(200):
            store.store(_note(i))
            assert store.dereference(_note(i)["id"])["name"] == f"note number {i}"
        assert store.query(text="number 7")["totalItems"] == 1


def test_sync_store_mirrors_delete_contains_get_and_cache_ttl() -> None:
    coll = "https://example.org/c"
    cache = MemoryCache()
    backend = MemoryBackend()
    store = SyncActivityStore(backend, cache, namespace="t")
    store.store(_note(1), cache_ttl=30)
    store.store_many([_note(2), _note(3)], cache_ttl=60)
    store.add_to_collection(_note(1)["id"], coll)
    assert store.contains(coll, _note(1)["id"]) is True
    assert store.get(_note(1)["id"], collection=coll) == {
        "id": _note(1)["id"],
        "type": "Note",
        "name": "note number 1",
    }
    assert store.get(_note(2)["id"])["name"] == "note number 2"
    assert store.delete(_note(1)["id"]) is True
    assert store.contains(coll, _note(1)["id"]) is False
    with pytest.raises(ObjectNotFound):
        store.get(_note(1)["id"])
    store.teardown(delete_data=True)
    assert len(cache) == 0
    with (
        SyncActivityStore(backend, MemoryCache(), namespace="t") as again,
        pytest.raises(ObjectNotFound),
    ):
        again.dereference(_note(2)["id"])


def test_postgres_backend_selected_by_settings(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("ACTIVITY_STORE_BACKEND", "postgres")
    monkeypatch.setenv("ACTIVITY_STORE_DATABASE_URL", postgres_url)
    with SyncActivityStore(cache=MemoryCache(), namespace="sync_pg") as store:
        assert type(store.store_async.backend).__name__ == "PostgresBackend"
        for i in range(50):
            store.store(_note(i))
        assert store.query(text="number 7")["totalItems"] == 1
        store.add_to_collection(_note(7)["id"], "https://example.org/c")
        assert store.contains("https://example.org/c", _note(7)["id"]) is True
        store.teardown(delete_data=True)
    with SyncActivityStore(cache=MemoryCache(), namespace="sync_pg") as store:
        assert store.query()["totalItems"] == 0
        store.teardown(delete_data=True)
