"""Async store for JSON-LD / ActivityStreams objects: memory, Elasticsearch, PostgreSQL backends.

Start with :class:`ActivityStore` (or :class:`SyncActivityStore` outside async code)::

    async with ActivityStore() as store:
        await store.store({"id": "https://example.org/notes/1", "type": "Note", "content": "hi"})
        page = await store.query(text="hi")
"""

from activity_store._copy import thaw
from activity_store.errors import (
    ActivityStoreError,
    ContextNotAllowed,
    InvalidLDObject,
    InvalidQuery,
    ObjectNotFound,
)
from activity_store.interfaces import CacheBackend, StorageBackend
from activity_store.query import Page, Query
from activity_store.store import ActivityStore
from activity_store.sync import SyncActivityStore

__all__ = [
    "ActivityStore",
    "ActivityStoreError",
    "CacheBackend",
    "ContextNotAllowed",
    "InvalidLDObject",
    "InvalidQuery",
    "ObjectNotFound",
    "Page",
    "Query",
    "StorageBackend",
    "SyncActivityStore",
    "thaw",
]
