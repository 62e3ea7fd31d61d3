"""Async store for JSON-LD / ActivityStreams objects: memory, Elasticsearch, PostgreSQL backends.

Start with :class:`ActivityStore` (or :class:`SyncActivityStore` outside async code)::

    async with ActivityStore() as store:
        await store.store({"id": "https://example.org/notes/1", "type": "Note", "content": "hi"})
        page = await store.query(text="hi")

Names are imported on first use (PEP 562), so ``import activity_store`` loads nothing else;
pydantic, the backends and their clients load with the name that needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platform_core.lazy import lazy_exports

if TYPE_CHECKING:
    from activity_store._copy import thaw
    from activity_store.errors import (
        ActivityStoreError,
        ContextNotAllowed,
        InvalidLDObject,
        InvalidQuery,
        ObjectNotFound,
    )
    from activity_store.interfaces import (
        CacheBackend,
        StorageBackend,
    )
    from activity_store.query import (
        Page,
        Query,
    )
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

_EXPORTS = {
    "ActivityStore": "activity_store.store",
    "ActivityStoreError": "activity_store.errors",
    "CacheBackend": "activity_store.interfaces",
    "ContextNotAllowed": "activity_store.errors",
    "InvalidLDObject": "activity_store.errors",
    "InvalidQuery": "activity_store.errors",
    "ObjectNotFound": "activity_store.errors",
    "Page": "activity_store.query",
    "Query": "activity_store.query",
    "StorageBackend": "activity_store.interfaces",
    "SyncActivityStore": "activity_store.sync",
    "thaw": "activity_store._copy",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
