"""The in-memory backend: every object and collection lives in this instance's dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from activity_store._copy import json_copy
from activity_store._index import Indexed
from activity_store._matching import Entry, run_query
from activity_store.interfaces import StorageBackend
from activity_store.query import Page, Query

__all__ = ["MemoryBackend"]


class MemoryBackend(StorageBackend):
    """Keeps objects and collections in memory, for tests and single-process use.

    State belongs to the instance: two backends never see each other's objects. Stored and
    returned objects are copies, so callers cannot change what is stored by mutating them.

    Args:
        namespace: Kept for symmetry with other backends; memory needs no prefix.
    """

    def __init__(self, namespace: str = "activity_store") -> None:
        self.namespace = namespace
        self._objects: dict[str, Entry] = {}
        self._collections: dict[str, dict[str, Entry]] = {}
        # object id -> the collections holding it, for delete and tombstone propagation
        self._memberships: dict[str, set[str]] = {}

    @classmethod
    def from_env(cls, *, namespace: str) -> Self:
        """Build an empty memory backend (it has no settings)."""
        return cls(namespace)

    async def put(self, obj: dict[str, Any]) -> None:
        """Store a copy of ``obj``, replacing any previous object with its id."""
        copied = json_copy(obj)
        self._objects[copied["id"]] = (copied, Indexed.of(copied))

    async def put_many(self, objs: Sequence[dict[str, Any]]) -> None:
        """Store copies of every object in ``objs`` (all indexed before any is stored)."""
        entries = [(copied, Indexed.of(copied)) for copied in map(json_copy, objs)]
        for entry in entries:
            self._objects[entry[0]["id"]] = entry

    async def get(self, object_id: str) -> dict[str, Any] | None:
        """Return a copy of the stored object, or ``None``."""
        entry = self._objects.get(object_id)
        return None if entry is None else json_copy(entry[0])

    async def add_member(
        self, collection: str, member: dict[str, Any], source: dict[str, Any]
    ) -> None:
        """Record a copy of ``member`` in ``collection``, indexed from ``source``."""
        members = self._collections.setdefault(collection, {})
        members[member["id"]] = (json_copy(member), Indexed.of(source))
        self._memberships.setdefault(member["id"], set()).add(collection)

    async def remove_member(self, collection: str, object_id: str) -> bool:
        """Remove ``object_id`` from ``collection``; return whether it was a member."""
        members = self._collections.get(collection)
        if members is None or object_id not in members:
            return False
        del members[object_id]
        if not members:
            del self._collections[collection]
        holders = self._memberships[object_id]
        holders.discard(collection)
        if not holders:
            del self._memberships[object_id]
        return True

    async def get_member(self, collection: str, object_id: str) -> dict[str, Any] | None:
        """Return a copy of ``collection``'s entry for ``object_id``, or ``None``."""
        entry = self._collections.get(collection, {}).get(object_id)
        return None if entry is None else json_copy(entry[0])

    async def delete(self, object_id: str) -> bool:
        """Remove the object and its entries in every collection."""
        existed = self._objects.pop(object_id, None) is not None
        for collection in self._memberships.pop(object_id, set()):
            members = self._collections[collection]
            del members[object_id]
            if not members:
                del self._collections[collection]
        return existed

    async def put_tombstone(self, tombstone: dict[str, Any], member: dict[str, Any]) -> None:
        """Store the tombstone and make it every collection's entry for its id."""
        copied = json_copy(tombstone)
        indexed = Indexed.of(copied)
        self._objects[copied["id"]] = (copied, indexed)
        for collection in self._memberships.get(copied["id"], ()):
            self._collections[collection][copied["id"]] = (json_copy(member), indexed)

    async def teardown(self, *, delete_data: bool = False) -> None:
        """Forget every object and collection when ``delete_data`` is true."""
        if delete_data:
            self._objects.clear()
            self._collections.clear()
            self._memberships.clear()

    async def query(self, query: Query) -> Page:
        """Run ``query`` over the objects, or over one collection's members."""
        if query.collection is not None:
            entries = self._collections.get(query.collection, {}).values()
        else:
            entries = self._objects.values()
        page = run_query(entries, query)
        page["items"] = [json_copy(item) for item in page["items"]]
        return page
