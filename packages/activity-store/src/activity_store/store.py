"""ActivityStore: the async front door over one backend and one cache."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from activity_store._index import query_words
from activity_store.errors import InvalidLDObject, ObjectNotFound
from activity_store.interfaces import CacheBackend, StorageBackend
from activity_store.ld import partial_member, prepare, to_tombstone, validate
from activity_store.query import Page, Query
from activity_store.settings import ActivityStoreSettings
from platform_core.logging import get_logger
from platform_core.plugins import load_plugin

__all__ = ["ActivityStore"]

_log = get_logger(__name__)

BACKENDS_GROUP = "activity_store.backends"
CACHES_GROUP = "activity_store.caches"


class ActivityStore:
    """Stores, dereferences, collects, tombstones and queries LD-objects.

    Use it as an async context manager (``async with ActivityStore() as store:``), which sets
    up and tears down the backend and cache; entering or leaving twice is harmless. Methods
    also set up on first use when the store is used without ``async with``.

    Args:
        backend: Where objects live; chosen by ``ACTIVITY_STORE_BACKEND`` when omitted.
        cache: The read cache; chosen by ``ACTIVITY_STORE_CACHE`` when omitted.
        namespace: Prefix for indices and cache keys used by the factories; defaults to
            ``ACTIVITY_STORE_NAMESPACE``.

    Raises:
        platform_core.errors.ConfigurationError: a setting names an unknown plugin or one
            whose extra is not installed (the message says what to set or install).
    """

    def __init__(
        self,
        backend: StorageBackend | None = None,
        cache: CacheBackend | None = None,
        namespace: str | None = None,
    ) -> None:
        if namespace is None and (backend is None or cache is None):
            namespace = ActivityStoreSettings.load().namespace
        self.namespace = namespace
        self.backend = backend if backend is not None else self.backend_factory(namespace)
        self.cache = cache if cache is not None else self.cache_factory(namespace)
        self._ready = False

    @staticmethod
    def backend_factory(namespace: str | None = None) -> StorageBackend:
        """Build the backend named by ``ACTIVITY_STORE_BACKEND`` (``memory`` by default).

        Args:
            namespace: Overrides ``ACTIVITY_STORE_NAMESPACE``.
        """
        settings = ActivityStoreSettings.load()
        plugin = load_plugin(BACKENDS_GROUP, settings.backend, setting="ACTIVITY_STORE_BACKEND")
        backend: StorageBackend = plugin.from_env(namespace=namespace or settings.namespace)
        return backend

    @staticmethod
    def cache_factory(namespace: str | None = None) -> CacheBackend:
        """Build the cache named by ``ACTIVITY_STORE_CACHE`` (``memory`` by default).

        Args:
            namespace: Overrides ``ACTIVITY_STORE_NAMESPACE``.
        """
        settings = ActivityStoreSettings.load()
        plugin = load_plugin(CACHES_GROUP, settings.cache, setting="ACTIVITY_STORE_CACHE")
        cache: CacheBackend = plugin.from_env(namespace=namespace or settings.namespace)
        return cache

    async def setup(self) -> None:
        """Set up the backend and the cache. Does nothing when already set up."""
        if self._ready:
            return
        await self.backend.setup()
        await self.cache.setup()
        self._ready = True

    async def teardown(self, *, delete_data: bool = False) -> None:
        """Tear down the cache and backend. Safe to call twice.

        Args:
            delete_data: Also remove everything this store holds: the backend's objects and
                collections (its indices or tables) and the cache's entries. Irreversible.
                Without it, no data is ever deleted.
        """
        if delete_data and not self._ready:
            await self.setup()
        if not self._ready:
            return
        self._ready = False
        # Plugins written before delete_data existed keep working for a plain teardown.
        try:
            await (self.cache.teardown(delete_data=True) if delete_data else self.cache.teardown())
        finally:
            if delete_data:
                await self.backend.teardown(delete_data=True)
            else:
                await self.backend.teardown()
        if delete_data:
            _log.info("activity_store.data_deleted", namespace=self.namespace)

    async def __aenter__(self) -> Self:
        await self.setup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.teardown()

    async def store(self, obj: dict[str, Any], *, cache_ttl: float | None = None) -> str:
        """Store ``obj`` as the canonical copy of its id and return the id.

        The ActivityStreams ``@context`` is added when missing, on a copy: the caller's dict is
        never modified. A document naming its id and type otherwise (expanded ``@id`` /
        ``@type``, aliases) is stored compacted against that context. The backend is written
        first, then the cache.

        Args:
            obj: The object.
            cache_ttl: Seconds this object stays cached (default: the cache's time-to-live).

        Raises:
            InvalidLDObject: ``obj`` has no non-empty string ``id`` or no ``type``.
            ContextNotAllowed: ``obj`` names a remote context that is not bundled or allowed.
            ActivityStoreError: the backend failed.
        """
        prepared = prepare(obj)
        object_id: str = prepared["id"]
        _check_ttl(cache_ttl)
        await self.setup()
        await self.backend.put(prepared)
        await self.cache.set(object_id, prepared, ttl=cache_ttl)
        _log.debug("activity_store.stored", object_id=object_id)
        return object_id

    async def store_many(
        self, objs: Iterable[dict[str, Any]], *, cache_ttl: float | None = None
    ) -> list[str]:
        """Store many objects at once (one bulk request on Elasticsearch); return their ids.

        Every object is validated before anything is written.

        Args:
            objs: The objects.
            cache_ttl: Seconds these objects stay cached (default: the cache's time-to-live).

        Raises:
            InvalidLDObject: one of the objects is invalid (nothing is written).
            ContextNotAllowed: one names a remote context that is not bundled or allowed.
            ActivityStoreError: the backend failed.
        """
        prepared = [prepare(obj) for obj in objs]
        ids: list[str] = [obj["id"] for obj in prepared]
        _check_ttl(cache_ttl)
        await self.setup()
        await self.backend.put_many(prepared)
        await self.cache.set_many(prepared, ttl=cache_ttl)
        _log.debug("activity_store.stored_many", count=len(ids))
        return ids

    async def dereference(self, object_id: str) -> dict[str, Any]:
        """Return the object with ``object_id``: from the cache, else the backend.

        A backend hit fills the cache; a miss is never cached.

        Raises:
            ObjectNotFound: no object has that id (also a ``KeyError``).
            ActivityStoreError: the backend failed.
        """
        nowait = self.cache.get_nowait
        cached = nowait(object_id) if nowait is not None else await self.cache.get(object_id)
        if cached is not None:
            return cached
        if not self._ready:
            await self.setup()
        found = await self.backend.get(object_id)
        if found is None:
            raise ObjectNotFound(object_id)
        await self.cache.set(object_id, found)
        return found

    async def get(self, object_id: str, collection: str | None = None) -> dict[str, Any]:
        """Return the object, or with ``collection`` the partial copy that collection holds.

        Args:
            object_id: The object's id.
            collection: Read the entry of this collection instead of the canonical object.

        Raises:
            ObjectNotFound: no such object, or it is not in ``collection``.
        """
        if collection is None:
            return await self.dereference(object_id)
        _check_collection(collection)
        await self.setup()
        member = await self.backend.get_member(collection, object_id)
        if member is None:
            raise ObjectNotFound(object_id, collection)
        return member

    async def contains(self, collection: str, object_id: str) -> bool:
        """Whether ``object_id`` is a member of ``collection``.

        Raises:
            InvalidLDObject: ``collection`` is not a non-empty string.
        """
        _check_collection(collection)
        await self.setup()
        return await self.backend.get_member(collection, object_id) is not None

    async def delete(self, object_id: str) -> bool:
        """Delete an object for good: from the backend, every collection and the cache.

        Unlike :meth:`convert_to_tombstone`, nothing is left behind: dereferencing the id
        raises :class:`ObjectNotFound` afterwards and no query finds it.

        Returns:
            Whether an object with that id was stored.
        """
        await self.setup()
        existed = await self.backend.delete(object_id)
        await self.cache.delete(object_id)
        _log.info("activity_store.deleted", object_id=object_id, existed=existed)
        return existed

    async def _resolve(self, obj_or_id: dict[str, Any] | str) -> dict[str, Any]:
        if isinstance(obj_or_id, str):
            return await self.dereference(obj_or_id)
        validate(obj_or_id)
        return obj_or_id

    async def add_to_collection(self, obj: dict[str, Any] | str, collection: str) -> None:
        """Add ``obj`` (an object, or the id of a stored one) to ``collection``.

        The collection keeps a partial copy: id, type, and name, summary, published and updated
        when present (never content or attachments). Queries on the collection match the
        object's text, tags, type and dates as they were when it was added. The canonical
        object is not stored or changed by this call.

        Raises:
            InvalidLDObject: ``obj`` is invalid, or ``collection`` is not a non-empty string.
            ObjectNotFound: ``obj`` is an id that is not stored.
        """
        _check_collection(collection)
        source = await self._resolve(obj)
        await self.setup()
        await self.backend.add_member(collection, partial_member(source), source)
        _log.debug("activity_store.collected", object_id=source["id"], collection=collection)

    async def remove_from_collection(self, object_id: str, collection: str) -> bool:
        """Remove ``object_id`` from ``collection``; the canonical object stays.

        Returns:
            Whether the object was a member.
        """
        _check_collection(collection)
        await self.setup()
        return await self.backend.remove_member(collection, object_id)

    async def convert_to_tombstone(self, obj_or_id: dict[str, Any] | str) -> dict[str, Any]:
        """Replace an object with its Tombstone, store and cache it, and return it.

        The object's entries in every collection become the tombstone's partial copy in the
        same operation, so collections stop showing its old name and text queries stop
        finding it. Queries match it by its ``formerType`` only with ``include_deleted=True``.
        Use :meth:`delete` to remove an object without leaving a tombstone.

        Args:
            obj_or_id: The object, or the id of a stored object.

        Raises:
            ObjectNotFound: an id was given and no object has it.
            InvalidLDObject: the object has no usable id or type.
        """
        source = await self._resolve(obj_or_id)
        tombstone = to_tombstone(source)
        await self.setup()
        # The object and its collection entries change in one backend operation.
        await self.backend.put_tombstone(tombstone, partial_member(tombstone))
        await self.cache.set(tombstone["id"], tombstone)
        _log.info("activity_store.tombstoned", object_id=tombstone["id"])
        return tombstone

    async def query(self, query: Query | dict[str, Any] | None = None, **kwargs: Any) -> Page:
        """Find objects; see :class:`Query` for what each field means.

        Args:
            query: A :class:`Query` or a dict of its fields.
            **kwargs: Query fields; they win over those in ``query``.

        Returns:
            ``{"type", "totalItems", "items", "next"}``; ``next`` only when more results exist.

        Raises:
            pydantic.ValidationError: a field has a bad value (the error names the field).
            InvalidQuery: ``text`` holds no word (only blanks or punctuation).
        """
        if isinstance(query, Query):
            base = query.model_dump(exclude_unset=True)
        else:
            base = dict(query or {})
        resolved = Query.model_validate({**base, **kwargs})
        query_words(resolved.text)
        await self.setup()
        return await self.backend.query(resolved)


def _check_collection(collection: Any) -> None:
    if not isinstance(collection, str) or not collection:
        raise InvalidLDObject(f"collection must be a non-empty id string, got {collection!r}")


def _check_ttl(ttl: float | None) -> None:
    if ttl is not None and not ttl > 0:
        raise ValueError(f"cache_ttl must be a positive number of seconds, got {ttl!r}")
