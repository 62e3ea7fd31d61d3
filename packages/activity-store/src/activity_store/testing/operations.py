"""Conformance for delete, collection look-ups, tombstones, long ids, text and type spellings.

:class:`OperationsConformance` is part of :class:`~activity_store.testing.BackendConformance`;
it is kept in its own module only to keep each module one idea.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from activity_store.errors import InvalidQuery, ObjectNotFound
from activity_store.interfaces import StorageBackend
from activity_store.ld import AS_NAMESPACE, ensure_context, partial_member, to_tombstone
from activity_store.query import Query
from activity_store.store import ActivityStore
from activity_store.testing._helpers import BackendMaker, obj, page_through

__all__ = ["OperationsConformance"]

COLL = "https://example.org/collections/shelf"


def _ids(page: Any) -> list[str]:
    return [item["id"] for item in page["items"]]


async def _tombstone(backend: StorageBackend, original: dict[str, Any]) -> dict[str, Any]:
    tombstone = to_tombstone(original)
    await backend.put_tombstone(tombstone, partial_member(tombstone))
    return tombstone


class OperationsConformance:
    """Delete, membership look-ups, tombstone propagation, teardown, ids and text rules."""

    # --- delete ----------------------------------------------------------------------

    async def test_delete_removes_the_object_and_its_collection_entries(
        self, backend: StorageBackend
    ) -> None:
        gone, kept = obj("1", name="gone words"), obj("2", name="kept words")
        await backend.put_many([gone, kept])
        for coll in (COLL, f"{COLL}/2"):
            for item in (gone, kept):
                await backend.add_member(coll, partial_member(item), item)
        assert await backend.delete(gone["id"]) is True
        assert await backend.get(gone["id"]) is None
        assert await backend.get_member(COLL, gone["id"]) is None
        for coll in (COLL, f"{COLL}/2"):
            assert _ids(await backend.query(Query(collection=coll))) == [kept["id"]]
        assert _ids(await backend.query(Query(text="words"))) == [kept["id"]]
        assert await backend.delete(gone["id"]) is False
        assert await backend.get(kept["id"]) == kept

    async def test_delete_of_an_unknown_id_is_false(self, backend: StorageBackend) -> None:
        assert await backend.delete("https://example.org/o/never") is False

    # --- membership look-ups ---------------------------------------------------------

    async def test_get_member_returns_the_partial_copy(self, backend: StorageBackend) -> None:
        full = obj("1", name="Kept", content="body", published="2024-01-01T00:00:00Z")
        await backend.add_member(COLL, partial_member(full), full)
        assert await backend.get_member(COLL, full["id"]) == partial_member(full)
        assert await backend.get_member(f"{COLL}/other", full["id"]) is None
        assert await backend.get_member(COLL, "https://example.org/o/2") is None
        await backend.remove_member(COLL, full["id"])
        assert await backend.get_member(COLL, full["id"]) is None

    async def test_add_members_records_every_entry(self, backend: StorageBackend) -> None:
        items = [obj(f"{i:02d}", name=f"bulk member {i}") for i in range(30)]
        await backend.add_members(COLL, [(partial_member(item), item) for item in items])
        await backend.add_members(COLL, [])
        page = await backend.query(Query(collection=COLL, text="bulk", size=100))
        assert page["items"] == [partial_member(item) for item in items]
        assert await backend.get(items[0]["id"]) is None  # membership never stores the object

    # --- tombstones ------------------------------------------------------------------

    async def test_tombstone_updates_every_collection_entry(self, backend: StorageBackend) -> None:
        note = obj("1", name="Secret title", summary="hidden summary", content="body words")
        other = obj("2", "Article", name="Other title")
        await backend.put_many([note, other])
        for item in (note, other):
            await backend.add_member(COLL, partial_member(item), item)
        tombstone = await _tombstone(backend, note)
        entry = await backend.get_member(COLL, note["id"])
        assert entry == partial_member(tombstone)
        assert entry is not None
        assert entry["type"] == "Tombstone"
        assert "name" not in entry
        assert "summary" not in entry
        page = await backend.query(Query(collection=COLL))
        assert page["items"][0] == partial_member(tombstone)
        for text in ("secret", "hidden", "body"):
            assert (await backend.query(Query(collection=COLL, text=text)))["totalItems"] == 0
            assert (await backend.query(Query(text=text)))["totalItems"] == 0
        assert (await backend.get_member(COLL, other["id"])) == partial_member(other)

    async def test_tombstones_match_former_types_only_when_asked(
        self, backend: StorageBackend
    ) -> None:
        note, article = obj("1", name="a"), obj("2", "Article")
        await backend.put_many([note, article])
        await backend.add_member(COLL, partial_member(note), note)
        await _tombstone(backend, note)
        for fields in ({}, {"collection": COLL}):
            assert (await backend.query(Query(type="Note", **fields)))["totalItems"] == 0
            found = await backend.query(Query(type="Note", include_deleted=True, **fields))
            assert _ids(found) == [note["id"]]
            assert found["items"][0]["type"] == "Tombstone"
            assert _ids(await backend.query(Query(type="Tombstone", **fields))) == [note["id"]]
        both = await backend.query(Query(type=["Note", "Article"], include_deleted=True))
        assert _ids(both) == [note["id"], article["id"]]

    # --- teardown --------------------------------------------------------------------

    async def test_teardown_with_delete_data_removes_everything(
        self, make_backend: BackendMaker
    ) -> None:
        suffix = uuid.uuid4().hex[:10]
        backend = await make_backend(suffix)
        item = obj("1", name="to be removed")
        await backend.put(item)
        await backend.add_member(COLL, partial_member(item), item)
        await backend.teardown(delete_data=True)
        again = await make_backend(suffix)
        assert await again.get(item["id"]) is None
        assert await again.get_member(COLL, item["id"]) is None
        assert (await again.query(Query()))["totalItems"] == 0

    # --- long ids --------------------------------------------------------------------

    async def test_ids_of_2000_characters(self, backend: StorageBackend) -> None:
        # Same 1,990-character head, so only the tail orders them; "é" makes some non-ASCII.
        head = "https://example.org/" + "x" * 1970
        items = [
            ensure_context({"id": f"{head}{tail}", "type": "Note", "name": f"long {tail}"})
            for tail in ("b" * 10, "a" * 10, "é" * 10, "a" * 9)
        ]
        assert all(len(item["id"]) >= 1999 for item in items)
        await backend.put_many(items[:2])
        for item in items[2:]:
            await backend.put(item)
        for item in items:
            assert await backend.get(item["id"]) == item
            await backend.add_member(COLL, partial_member(item), item)
            assert await backend.get_member(COLL, item["id"]) == partial_member(item)
        expected = sorted(item["id"] for item in items)
        for fields in ({}, {"collection": COLL}):
            ids, total = await page_through(backend, {"size": 1, "text": "long", **fields})
            assert ids == expected
            assert total == 4
            ids, _ = await page_through(backend, {"size": 3, "sort": "id:desc", **fields})
            assert ids == expected[::-1]
        await _tombstone(backend, items[0])
        assert (await backend.get_member(COLL, items[0]["id"]))["type"] == "Tombstone"  # type: ignore[index]
        assert await backend.delete(items[1]["id"]) is True
        assert await backend.get(items[1]["id"]) is None
        assert (await backend.query(Query(collection=COLL)))["totalItems"] == 3

    # --- text and types --------------------------------------------------------------

    async def test_language_maps_and_nested_objects_are_searchable(
        self, backend: StorageBackend
    ) -> None:
        await backend.put_many(
            [
                obj("1", contentMap={"en": "A lovely day", "fr": "Une belle journée"}),
                obj("2", nameMap={"de": "Schöner Tag"}, summaryMap={"en": "sunny"}),
                obj("3", "Create", object={"type": "Note", "content": "nested lovely words"}),
                obj("4", attachment=[{"type": "Image", "name": "a journée photo"}]),
                obj("5", content="nothing here"),
            ]
        )
        assert _ids(await backend.query(Query(text="lovely"))) == [
            "https://example.org/o/1",
            "https://example.org/o/3",
        ]
        assert [i[-1] for i in _ids(await backend.query(Query(text="JOURNÉE")))] == ["1", "4"]
        assert [i[-1] for i in _ids(await backend.query(Query(text="schöner sunny")))] == ["2"]

    @pytest.mark.parametrize("text", ["", "   ", "?!... --", "\t\n"])
    async def test_text_without_a_word_is_an_invalid_query(
        self, backend: StorageBackend, text: str
    ) -> None:
        await backend.put(obj("1", name="anything"))
        with pytest.raises(InvalidQuery, match="no word"):
            await backend.query(Query(text=text))

    async def test_three_spellings_of_a_type_are_one_type(self, backend: StorageBackend) -> None:
        await backend.put_many(
            [
                obj("1", "Note"),
                obj("2", "as:Note"),
                obj("3", f"{AS_NAMESPACE}Note"),
                obj("4", "https://example.org/ns#Note"),
            ]
        )
        for spelling in ("Note", "as:Note", f"{AS_NAMESPACE}Note"):
            found = await backend.query(Query(type=spelling))
            assert [i[-1] for i in _ids(found)] == ["1", "2", "3"], spelling
        other = await backend.query(Query(type="https://example.org/ns#Note"))
        assert [i[-1] for i in _ids(other)] == ["4"]

    # --- through ActivityStore -------------------------------------------------------

    async def test_store_delete_contains_and_get_from_a_collection(
        self, store: ActivityStore
    ) -> None:
        note = obj("1", name="Shelved", content="body")
        await store.store(note)
        await store.add_to_collection(note["id"], COLL)
        assert await store.contains(COLL, note["id"]) is True
        assert await store.contains(f"{COLL}/none", note["id"]) is False
        assert await store.get(note["id"], collection=COLL) == partial_member(note)
        assert await store.get(note["id"]) == note
        with pytest.raises(ObjectNotFound, match="in collection"):
            await store.get(note["id"], collection=f"{COLL}/none")
        assert await store.delete(note["id"]) is True
        assert await store.contains(COLL, note["id"]) is False
        with pytest.raises(ObjectNotFound):
            await store.dereference(note["id"])
        assert await store.delete(note["id"]) is False

    async def test_store_tombstone_propagates_to_collections(self, store: ActivityStore) -> None:
        note = obj("1", name="Old name", summary="old summary")
        await store.store(note)
        await store.add_to_collection(note, COLL)
        tombstone = await store.convert_to_tombstone(note["id"])
        assert await store.get(note["id"], collection=COLL) == partial_member(tombstone)
        page = await store.query(collection=COLL, text="old")
        assert page["totalItems"] == 0
        deleted = await store.query(collection=COLL, type="Note", include_deleted=True)
        assert deleted["items"] == [partial_member(tombstone)]
