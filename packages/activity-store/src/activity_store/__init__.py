"""Async store for JSON-LD / ActivityStreams objects with memory and Elasticsearch backends.

Start with :class:`ActivityStore` (or :class:`SyncActivityStore` outside async code)::

    async with ActivityStore() as store:
        await store.store({"id": "https://example.org/notes/1", "type": "Note", "content": "hi"})
        page = await store.query(text="hi")
"""

from activity_store.errors import ActivityStoreError, InvalidLDObject, ObjectNotFound
from activity_store.interfaces import CacheBackend, StorageBackend
from activity_store.query import Page, Query
from activity_store.store import ActivityStore
from activity_store.sync import SyncActivityStore

__all__ = [
    "ActivityStore",
    "ActivityStoreError",
    "CacheBackend",
    "InvalidLDObject",
    "ObjectNotFound",
    "Page",
    "Query",
    "StorageBackend",
    "SyncActivityStore",
]
