"""The backend conformance suite: what every :class:`StorageBackend` must do.

Subclass :class:`BackendConformance` in a test module and provide a ``make_backend`` fixture:
an async function that takes a namespace suffix (lower-case letters and digits) and returns a
backend that is set up, empty for a new suffix, and sees the same data for a suffix it was
given before. Every test below then runs against your backend, including a Hypothesis property
comparing it with the memory backend::

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        async def make_backend(self):
            async def make(suffix: str) -> StorageBackend:
                backend = MyBackend(namespace=f"test-{suffix}")
                await backend.setup()
                return backend
            return make
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activity_store.backends.memory import MemoryBackend
from activity_store.errors import ObjectNotFound
from activity_store.interfaces import CacheBackend, StorageBackend
from activity_store.ld import AS_CONTEXT, ensure_context, partial_member, to_tombstone
from activity_store.query import Query
from activity_store.store import ActivityStore
from activity_store.testing import examples
from activity_store.testing._helpers import BackendMaker, page_through
from activity_store.testing._helpers import obj as _obj
from activity_store.testing.operations import OperationsConformance
from activity_store.testing.strategies import COLLECTIONS, ld_objects, queries

__all__ = ["BackendConformance", "BackendMaker", "NoCache", "page_through"]


def _always_miss(object_id: str) -> None:
    return None


class NoCache(CacheBackend):
    """A cache that never holds anything, so every read reaches the backend."""

    def __init__(self) -> None:
        self.get_nowait = _always_miss

    @classmethod
    def from_env(cls, *, namespace: str) -> NoCache:
        """Return a new no-op cache."""
        return cls()

    async def get(self, object_id: str) -> dict[str, Any] | None:
        """Always a miss."""
        return None

    async def set(self, object_id: str, obj: dict[str, Any], *, ttl: float | None = None) -> None:
        """Keep nothing."""

    async def delete(self, object_id: str) -> None:
        """Nothing to delete."""


class BackendConformance(OperationsConformance):
    """Behaviour every storage backend shares. Subclass it and define ``make_backend``."""

    @pytest.fixture
    async def backend(self, make_backend: BackendMaker) -> StorageBackend:
        """A fresh, empty backend."""
        return await make_backend(uuid.uuid4().hex[:10])

    @pytest.fixture
    def store(self, backend: StorageBackend) -> ActivityStore:
        """An ActivityStore over ``backend`` with no cache in between."""
        return ActivityStore(backend=backend, cache=NoCache(), namespace="conformance")

    # --- objects ---------------------------------------------------------------------

    async def test_put_then_get_returns_the_object_as_stored(self, backend: StorageBackend) -> None:
        obj = _obj("a", name="Hello", tag=[{"type": "Hashtag", "name": "#x"}], extra={"k": [1]})
        await backend.put(obj)
        assert await backend.get(obj["id"]) == obj

    async def test_get_of_unknown_id_is_none(self, backend: StorageBackend) -> None:
        assert await backend.get("https://example.org/o/none") is None

    async def test_put_replaces_the_previous_copy(self, backend: StorageBackend) -> None:
        await backend.put(_obj("a", name="first words"))
        await backend.put(_obj("a", "Article", name="second words"))
        assert (await backend.get("https://example.org/o/a"))["name"] == "second words"  # type: ignore[index]
        page = await backend.query(Query(text="first"))
        assert page["totalItems"] == 0
        page = await backend.query(Query(text="second", type="Article"))
        assert [item["id"] for item in page["items"]] == ["https://example.org/o/a"]

    async def test_put_many_is_readable_and_searchable_at_once(
        self, backend: StorageBackend
    ) -> None:
        objs = [_obj(f"{i:03d}", summary=f"bulk item {i}") for i in range(25)]
        await backend.put_many(objs)
        assert await backend.get(objs[7]["id"]) == objs[7]
        page = await backend.query(Query(text="bulk item", size=100))
        assert page["totalItems"] == 25
        assert [item["id"] for item in page["items"]] == [obj["id"] for obj in objs]

    # --- the query model -------------------------------------------------------------

    async def test_text_needs_every_word_as_a_whole_word(self, backend: StorageBackend) -> None:
        await backend.put_many(
            [
                _obj("1", name="Quick brown fox"),
                _obj("2", summary="The FOX is quick"),
                _obj("3", content="a quickly moving fox"),
                _obj("4", name="quick", content="fox"),
                _obj("5", url="https://example.org/quick/fox"),
            ]
        )
        page = await backend.query(Query(text="quick FOX"))
        assert [item["id"].rsplit("/", 1)[1] for item in page["items"]] == ["1", "2", "4"]

    async def test_keywords_match_any_tag_name(self, backend: StorageBackend) -> None:
        await backend.put_many(
            [
                _obj("1", tag=[{"type": "Hashtag", "name": "#Python"}]),
                _obj("2", tag=[{"type": "Mention", "name": "@guido"}, {"name": "#rust"}]),
                _obj("3", content="#python in the text is not a tag"),
            ]
        )
        page = await backend.query(Query(keywords=["#python", "@guido"]))
        assert [item["id"][-1] for item in page["items"]] == ["1", "2"]

    async def test_type_matches_any_listed_type(self, backend: StorageBackend) -> None:
        await backend.put_many(
            [_obj("1", "Note"), _obj("2", "Article"), _obj("3", ["Person", "Service"])]
        )
        page = await backend.query(Query(type=["Article", "Service"]))
        assert [item["id"][-1] for item in page["items"]] == ["2", "3"]
        assert (await backend.query(Query(type="Note")))["totalItems"] == 1

    async def test_sort_by_date_puts_missing_last_and_breaks_ties_by_id(
        self, backend: StorageBackend
    ) -> None:
        await backend.put_many(
            [
                _obj("d", published="2024-01-02T00:00:00Z"),
                _obj("c", published="2024-01-03T00:00:00Z"),
                _obj("b"),
                _obj("a", published="2024-01-02T00:00:00Z"),
                _obj("e", published="2024-01-01T00:00:00+00:00"),
            ]
        )
        desc = await backend.query(Query(sort="published:desc"))
        assert desc["type"] == "OrderedCollection"
        assert [item["id"][-1] for item in desc["items"]] == ["c", "a", "d", "e", "b"]
        asc = await backend.query(Query(sort="published"))
        assert [item["id"][-1] for item in asc["items"]] == ["e", "a", "d", "c", "b"]
        by_id = await backend.query(Query(sort="id:desc"))
        assert [item["id"][-1] for item in by_id["items"]] == ["e", "d", "c", "b", "a"]

    async def test_unsorted_results_are_a_collection_ordered_by_id(
        self, backend: StorageBackend
    ) -> None:
        await backend.put_many([_obj("b"), _obj("a")])
        page = await backend.query(Query())
        assert page["type"] == "Collection"
        assert [item["id"][-1] for item in page["items"]] == ["a", "b"]

    async def test_paging_visits_every_match_once(self, backend: StorageBackend) -> None:
        dates = ["2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", None]
        objs = []
        for i in range(23):
            date = dates[i % 3]
            objs.append(_obj(f"{i:02d}", updated=date) if date else _obj(f"{i:02d}"))
        await backend.put_many(objs)
        for sort in ("updated:desc", "updated", "id:desc", None):
            fields: dict[str, Any] = {"size": 4, "sort": sort}
            ids, total = await page_through(backend, fields)
            assert total == 23
            assert sorted(ids) == sorted(obj["id"] for obj in objs), sort
            single = await backend.query(Query(size=100, sort=sort))
            assert ids == [item["id"] for item in single["items"]]
            assert "next" not in single

    async def test_next_is_absent_when_the_page_holds_the_rest(
        self, backend: StorageBackend
    ) -> None:
        await backend.put_many([_obj("1"), _obj("2")])
        assert "next" not in await backend.query(Query(size=2))
        assert "next" in await backend.query(Query(size=1))

    # --- collections -----------------------------------------------------------------

    async def test_collection_restricts_to_members_and_returns_partial_copies(
        self, backend: StorageBackend
    ) -> None:
        coll = "https://example.org/collections/reading"
        full = _obj("1", name="Kept", content="secret body words", attachment=[{"url": "x"}])
        await backend.put_many([full, _obj("2", name="Not a member")])
        await backend.add_member(coll, partial_member(full), full)
        page = await backend.query(Query(collection=coll))
        assert page["items"] == [partial_member(full)]
        assert "content" not in page["items"][0]
        # Queries on a collection still match the member's content words.
        assert (await backend.query(Query(collection=coll, text="body")))["totalItems"] == 1

    async def test_unknown_collection_is_empty(self, backend: StorageBackend) -> None:
        await backend.put(_obj("1"))
        page = await backend.query(Query(collection="https://example.org/collections/none"))
        assert page["items"] == []
        assert page["totalItems"] == 0

    async def test_remove_member_keeps_the_object(self, backend: StorageBackend) -> None:
        coll = "https://example.org/collections/c"
        obj = _obj("1", name="member")
        await backend.put(obj)
        await backend.add_member(coll, partial_member(obj), obj)
        assert await backend.remove_member(coll, obj["id"]) is True
        assert await backend.remove_member(coll, obj["id"]) is False
        assert (await backend.query(Query(collection=coll)))["totalItems"] == 0
        assert await backend.get(obj["id"]) == obj

    async def test_membership_is_per_collection(self, backend: StorageBackend) -> None:
        obj = _obj("1")
        await backend.add_member("https://example.org/c/1", partial_member(obj), obj)
        await backend.add_member("https://example.org/c/2", partial_member(obj), obj)
        await backend.remove_member("https://example.org/c/1", obj["id"])
        assert (await backend.query(Query(collection="https://example.org/c/2")))["items"]
        assert await backend.get(obj["id"]) is None  # membership never stores the object

    async def test_teardown_keeps_data(self, make_backend: BackendMaker) -> None:
        suffix = uuid.uuid4().hex[:10]
        backend = await make_backend(suffix)
        await backend.put(_obj("1"))
        await backend.teardown()
        again = await make_backend(suffix)
        assert await again.get("https://example.org/o/1") == _obj("1")

    # --- through ActivityStore, with real ActivityStreams objects ----------------------

    async def test_activitystreams_examples_round_trip(self, store: ActivityStore) -> None:
        originals = examples.examples()
        ids = await store.store_many(originals)
        for original in originals:
            assert await store.dereference(original["id"]) == original
        outbox = f"{examples.BASE}/users/ada/outbox"
        for item in (examples.create(), examples.note()):
            await store.add_to_collection(item["id"], outbox)
        page = await store.query(collection=outbox, sort="published:desc")
        assert [item["id"] for item in page["items"]] == [ids[3], ids[1]]
        assert page["items"][1] == partial_member(examples.note())
        tagged = await store.query(keywords="#engines", sort="published")
        assert [item["type"] for item in tagged["items"]] == ["Article", "Note"]
        tombstone = await store.convert_to_tombstone(ids[1])
        assert await store.dereference(ids[1]) == tombstone
        assert tombstone["formerType"] == "Note"
        assert tombstone["@context"] == AS_CONTEXT
        assert (await store.query(text="algebraic patterns"))["totalItems"] == 0
        assert await store.remove_from_collection(ids[1], outbox) is True
        with pytest.raises(ObjectNotFound):
            await store.dereference(f"{examples.BASE}/notes/unknown")

    # --- agreement with the reference backend ---------------------------------------

    # Each example makes a fresh backend, so the function-scoped fixture is safe to share; the
    # test is inherited by each backend's subclass, hence the differing executors.
    @settings(
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors]
    )
    @given(objs=ld_objects(), data=st.data())
    async def test_same_results_as_the_memory_backend(
        self, make_backend: BackendMaker, objs: list[dict[str, Any]], data: st.DataObject
    ) -> None:
        reference = MemoryBackend()
        candidate = await make_backend(uuid.uuid4().hex[:10])
        stored = [ensure_context(obj) for obj in objs]
        for backend in (reference, candidate):
            await backend.put_many(stored)
        for coll in COLLECTIONS:
            for obj in data.draw(st.lists(st.sampled_from(stored), unique_by=id)) if stored else []:
                for backend in (reference, candidate):
                    await backend.add_member(coll, partial_member(obj), obj)
        for obj in data.draw(st.lists(st.sampled_from(stored), unique_by=id)) if stored else []:
            tombstone = to_tombstone(obj)
            for backend in (reference, candidate):
                await backend.put_tombstone(tombstone, partial_member(tombstone))
        for _ in range(3):
            fields = data.draw(queries())
            expected, expected_total = await page_through(reference, fields)
            got, total = await page_through(candidate, fields)
            assert got == expected, fields
            assert total == expected_total == len(got) == len(set(got)), fields
            whole = await candidate.query(Query(**{**fields, "size": 1000}))
            assert [item["id"] for item in whole["items"]] == got, fields
