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

    @classmethod
    def from_env(cls, *, namespace: str) -> Self:
        """Build an empty memory backend (it has no settings)."""
        return cls(namespace)

    async def put(self, obj: dict[str, Any]) -> None:
        """Store a copy of ``obj``, replacing any previous object with its id."""
        copied = json_copy(obj)
        self._objects[copied["id"]] = (copied, Indexed.of(copied))

    async def put_many(self, objs: Sequence[dict[str, Any]]) -> None:
        """Store copies of every object in ``objs``."""
        for obj in objs:
            await self.put(obj)

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

    async def remove_member(self, collection: str, object_id: str) -> bool:
        """Remove ``object_id`` from ``collection``; return whether it was a member."""
        members = self._collections.get(collection)
        if members is None or object_id not in members:
            return False
        del members[object_id]
        if not members:
            del self._collections[collection]
        return True

    async def query(self, query: Query) -> Page:
        """Run ``query`` over the objects, or over one collection's members."""
        if query.collection is not None:
            entries = self._collections.get(query.collection, {}).values()
        else:
            entries = self._objects.values()
        page = run_query(entries, query)
        page["items"] = [json_copy(item) for item in page["items"]]
        return page
