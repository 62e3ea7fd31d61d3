"""ActivityStore on the memory backend and memory cache: every public method."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from activity_store import (
    ActivityStore,
    ActivityStoreError,
    InvalidLDObject,
    ObjectNotFound,
    Query,
    thaw,
)
from activity_store.backends.memory import MemoryBackend
from activity_store.caches.memory import MemoryCache
from activity_store.ld import AS_CONTEXT

NOTE = {"id": "https://example.org/notes/1", "type": "Note", "content": "hello world"}


async def test_store_returns_id_and_adds_context_on_a_copy(memory_store: ActivityStore) -> None:
    original = dict(NOTE)
    assert await memory_store.store(original) == NOTE["id"]
    assert original == NOTE  # the caller's dict is untouched
    assert await memory_store.dereference(NOTE["id"]) == {**NOTE, "@context": AS_CONTEXT}


async def test_store_keeps_an_existing_context(memory_store: ActivityStore) -> None:
    ctx = [AS_CONTEXT, {"ext": "https://example.org/ns#"}]
    await memory_store.store({**NOTE, "@context": ctx})
    assert (await memory_store.dereference(NOTE["id"]))["@context"] == ctx


@pytest.mark.parametrize(
    ("obj", "says"),
    [
        ({"type": "Note"}, "'id'"),
        ({"id": "", "type": "Note"}, "'id'"),
        ({"id": 5, "type": "Note"}, "'id'"),
        ({"id": "https://example.org/x"}, "'type'"),
        ({"id": "https://example.org/x", "type": []}, "'type'"),
        ({"id": "https://example.org/x", "type": ["Note", 3]}, "'type'"),
        (["not", "a", "dict"], "dict"),
    ],
)
async def test_store_rejects_objects_without_id_or_type(
    memory_store: ActivityStore, obj: Any, says: str
) -> None:
    with pytest.raises(InvalidLDObject, match=says) as info:
        await memory_store.store(obj)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ActivityStoreError)


async def test_storing_again_overwrites(memory_store: ActivityStore) -> None:
    await memory_store.store(NOTE)
    await memory_store.store({**NOTE, "content": "changed"})
    assert (await memory_store.dereference(NOTE["id"]))["content"] == "changed"
    assert (await memory_store.query(text="hello"))["totalItems"] == 0


async def test_store_many_validates_everything_before_writing(
    memory_store: ActivityStore,
) -> None:
    good = {"id": "https://example.org/a", "type": "Note"}
    with pytest.raises(InvalidLDObject):
        await memory_store.store_many([good, {"id": "https://example.org/b"}])
    with pytest.raises(ObjectNotFound):
        await memory_store.dereference(good["id"])
    ids = await memory_store.store_many([good, {**good, "id": "https://example.org/b"}])
    assert ids == ["https://example.org/a", "https://example.org/b"]
    assert (await memory_store.query())["totalItems"] == 2


async def test_dereference_reads_the_cache_before_the_backend() -> None:
    backend, cache = MemoryBackend(), MemoryCache()
    store = ActivityStore(backend, cache, namespace="t")
    await store.store(NOTE)
    await backend.put({**NOTE, "content": "changed behind the cache"})
    assert (await store.dereference(NOTE["id"]))["content"] == "hello world"


async def test_dereference_fills_the_cache_from_the_backend() -> None:
    backend, cache = MemoryBackend(), MemoryCache()
    await backend.put(NOTE)
    store = ActivityStore(backend, cache, namespace="t")
    assert await store.dereference(NOTE["id"]) == NOTE
    assert await cache.get(NOTE["id"]) == NOTE


async def test_unknown_id_raises_and_is_not_cached() -> None:
    backend, cache = MemoryBackend(), MemoryCache()
    store = ActivityStore(backend, cache, namespace="t")
    with pytest.raises(ObjectNotFound) as info:
        await store.dereference(NOTE["id"])
    assert isinstance(info.value, KeyError)
    assert NOTE["id"] in str(info.value)
    assert len(cache) == 0
    await backend.put(NOTE)  # appears later, e.g. written by another process
    assert await store.dereference(NOTE["id"]) == NOTE


async def test_cached_objects_cannot_be_changed_by_callers(memory_store: ActivityStore) -> None:
    await memory_store.store({**NOTE, "to": ["a"]})
    first = await memory_store.dereference(NOTE["id"])
    with pytest.raises(TypeError, match="read-only"):
        first["to"].append("b")
    mine = thaw(first)
    mine["to"].append("b")
    assert (await memory_store.dereference(NOTE["id"]))["to"] == ["a"]


async def test_add_to_collection_keeps_a_partial_copy(memory_store: ActivityStore) -> None:
    full = {
        **NOTE,
        "name": "Hi",
        "summary": "greeting",
        "published": "2024-01-01T00:00:00Z",
        "updated": "2024-01-02T00:00:00Z",
        "attachment": [{"type": "Image", "url": "https://example.org/i.png"}],
        "to": ["https://example.org/u"],
    }
    await memory_store.store(full)
    await memory_store.add_to_collection(NOTE["id"], "https://example.org/c")
    page = await memory_store.query(collection="https://example.org/c")
    assert page["items"] == [
        {key: full[key] for key in ("id", "type", "name", "summary", "published", "updated")}
    ]


async def test_add_to_collection_of_an_unknown_id_raises(memory_store: ActivityStore) -> None:
    with pytest.raises(ObjectNotFound):
        await memory_store.add_to_collection("https://example.org/none", "https://example.org/c")
    with pytest.raises(InvalidLDObject, match="collection"):
        await memory_store.add_to_collection(NOTE, "")


async def test_remove_from_collection_keeps_the_object(memory_store: ActivityStore) -> None:
    await memory_store.store(NOTE)
    await memory_store.add_to_collection(NOTE, "https://example.org/c")
    assert await memory_store.remove_from_collection(NOTE["id"], "https://example.org/c")
    assert not await memory_store.remove_from_collection(NOTE["id"], "https://example.org/c")
    assert (await memory_store.query(collection="https://example.org/c"))["items"] == []
    assert (await memory_store.dereference(NOTE["id"]))["content"] == "hello world"


@pytest.mark.parametrize("kind", ["Note", ["Note", "Article"]])
async def test_convert_to_tombstone(memory_store: ActivityStore, kind: str | list[str]) -> None:
    await memory_store.store({**NOTE, "type": kind})
    tombstone = await memory_store.convert_to_tombstone(NOTE["id"])
    assert set(tombstone) == {"@context", "id", "type", "formerType", "deleted"}
    assert tombstone["type"] == "Tombstone"
    assert tombstone["formerType"] == kind
    assert tombstone["deleted"].endswith("Z")
    deleted = datetime.fromisoformat(tombstone["deleted"])
    assert abs(datetime.now(UTC) - deleted) < timedelta(minutes=1)
    assert await memory_store.dereference(NOTE["id"]) == tombstone
    assert (await memory_store.query(text="hello"))["totalItems"] == 0


async def test_convert_to_tombstone_accepts_an_object(memory_store: ActivityStore) -> None:
    tombstone = await memory_store.convert_to_tombstone(NOTE)
    assert await memory_store.dereference(NOTE["id"]) == tombstone
    with pytest.raises(ObjectNotFound):
        await memory_store.convert_to_tombstone("https://example.org/none")


async def test_query_takes_a_query_a_dict_or_keywords(memory_store: ActivityStore) -> None:
    await memory_store.store_many(
        [
            {"id": "https://example.org/1", "type": "Note", "name": "red apple"},
            {"id": "https://example.org/2", "type": "Article", "name": "green apple"},
        ]
    )
    by_model = await memory_store.query(Query(text="apple", type="Article"))
    by_dict = await memory_store.query({"text": "apple", "type": ["Article"]})
    by_kwargs = await memory_store.query(text="apple", type="Article")
    assert by_model == by_dict == by_kwargs
    assert [item["id"] for item in by_kwargs["items"]] == ["https://example.org/2"]
    # keyword arguments win over the query's own fields
    overridden = await memory_store.query(Query(text="apple", type="Article"), type="Note")
    assert [item["id"] for item in overridden["items"]] == ["https://example.org/1"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"size": 0}, "size"),
        ({"sort": "name:desc"}, "sort"),
        ({"sort": "published:up"}, "sort"),
        ({"after": "not a cursor!"}, "after"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_query_values_name_the_field(
    memory_store: ActivityStore, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError, match=field):
        await memory_store.query(**fields)


async def test_query_pages_with_next(memory_store: ActivityStore) -> None:
    await memory_store.store_many(
        [{"id": f"https://example.org/{i}", "type": "Note"} for i in range(5)]
    )
    first = await memory_store.query(size=2)
    assert first["totalItems"] == 5
    second = await memory_store.query(size=2, after=first["next"])
    third = await memory_store.query(size=2, after=second["next"])
    assert "next" not in third
    ids = [item["id"] for page in (first, second, third) for item in page["items"]]
    assert ids == [f"https://example.org/{i}" for i in range(5)]


class CountingBackend(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def setup(self) -> None:
        self.calls.append("setup")

    async def teardown(self) -> None:
        self.calls.append("teardown")


async def test_context_manager_sets_up_and_tears_down_once() -> None:
    backend = CountingBackend()
    store = ActivityStore(backend, MemoryCache(), namespace="t")
    async with store:
        await store.setup()
        await store.store(NOTE)
    await store.teardown()
    assert backend.calls == ["setup", "teardown"]


async def test_use_without_context_manager_sets_up_on_first_call() -> None:
    backend = CountingBackend()
    store = ActivityStore(backend, MemoryCache(), namespace="t")
    await store.store(NOTE)
    await store.dereference(NOTE["id"])
    assert backend.calls == ["setup"]


async def test_memory_state_belongs_to_the_instance() -> None:
    first = ActivityStore(MemoryBackend(), MemoryCache(), namespace="t")
    second = ActivityStore(MemoryBackend(), MemoryCache(), namespace="t")
    await first.store(NOTE)
    with pytest.raises(ObjectNotFound):
        await second.dereference(NOTE["id"])


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("content", "nul \x00 here", ".content"),
        ("name", "lone \ud800 surrogate", ".name"),
        ("tag", [{"name": "#ok"}, {"name": "bad\x00"}], ".tag[1].name"),
        ("bad\x00key", "x", "a key in"),
    ],
)
async def test_text_no_database_can_keep_is_refused(
    memory_store: ActivityStore, field: str, value: Any, says: str
) -> None:
    with pytest.raises(InvalidLDObject, match="NUL character or a lone surrogate") as info:
        await memory_store.store({**NOTE, field: value})
    assert says in str(info.value)
    with pytest.raises(ObjectNotFound):
        await memory_store.dereference(NOTE["id"])
