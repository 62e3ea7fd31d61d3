"""The two plugin contracts: where objects live (backends) and what speeds up reads (caches).

A third-party backend subclasses :class:`StorageBackend`, registers it in the
``activity_store.backends`` entry-point group and checks itself with the conformance suite in
:mod:`activity_store.testing`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Self

from activity_store.query import Page, Query

__all__ = ["CacheBackend", "StorageBackend"]


class StorageBackend(ABC):
    """Holds the canonical copy of each object and each collection's members.

    Objects are validated and given their ``@context`` before they reach a backend; a backend
    stores them as given and returns them as stored. Collection membership is kept apart from
    the canonical objects.
    """

    @classmethod
    @abstractmethod
    def from_env(cls, *, namespace: str) -> Self:
        """Build the backend from environment settings.

        Args:
            namespace: Prefix for everything the backend creates (indices, keys, ...).
        """

    async def setup(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Prepare the backend (connect, create indices). Safe to call more than once."""

    async def teardown(self, *, delete_data: bool = False) -> None:  # noqa: B027 - optional
        """Release connections. Safe to call more than once.

        Args:
            delete_data: Also remove everything this backend stored under its namespace
                (objects, collections, indices, tables). Irreversible.
        """

    @abstractmethod
    async def put(self, obj: dict[str, Any]) -> None:
        """Store ``obj`` as the canonical copy of its id, replacing any previous one."""

    async def put_many(self, objs: Sequence[dict[str, Any]]) -> None:
        """Store many objects; backends override this with one bulk request."""
        for obj in objs:
            await self.put(obj)

    @abstractmethod
    async def get(self, object_id: str) -> dict[str, Any] | None:
        """Return the stored object, or ``None`` when there is none."""

    @abstractmethod
    async def add_member(
        self, collection: str, member: dict[str, Any], source: dict[str, Any]
    ) -> None:
        """Record ``member`` (a partial copy) in ``collection``, replacing an earlier entry.

        Args:
            collection: The collection's id.
            member: The partial copy the collection holds and queries return.
            source: The full object the partial copy was taken from; queries on the
                collection match against it (its text, tags, type and dates).
        """

    async def add_members(
        self, collection: str, entries: Sequence[tuple[dict[str, Any], dict[str, Any]]]
    ) -> None:
        """Record many ``(member, source)`` pairs in ``collection``; backends override this
        with one bulk request."""
        for member, source in entries:
            await self.add_member(collection, member, source)

    @abstractmethod
    async def remove_member(self, collection: str, object_id: str) -> bool:
        """Remove ``object_id`` from ``collection``; return whether it was a member."""

    @abstractmethod
    async def get_member(self, collection: str, object_id: str) -> dict[str, Any] | None:
        """Return the partial copy ``collection`` holds of ``object_id``, or ``None``."""

    @abstractmethod
    async def delete(self, object_id: str) -> bool:
        """Remove the object and its entries in every collection; return whether it existed.

        Either both go or neither does (one transaction, or the closest the backend has).
        """

    @abstractmethod
    async def put_tombstone(self, tombstone: dict[str, Any], member: dict[str, Any]) -> None:
        """Replace the object with ``tombstone`` and update its entries in every collection.

        Each collection entry of ``tombstone["id"]`` becomes ``member`` (the tombstone's
        partial copy) and is matched as the tombstone from then on, in the same operation as
        the object's replacement.
        """

    @abstractmethod
    async def query(self, query: Query) -> Page:
        """Return one page of the objects (or collection members) matching ``query``."""


class CacheBackend(ABC):
    """A read cache in front of a backend, holding whole objects for a time-to-live."""

    @classmethod
    @abstractmethod
    def from_env(cls, *, namespace: str) -> Self:
        """Build the cache from environment settings.

        Args:
            namespace: Prefix for every key the cache writes.
        """

    async def setup(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Prepare the cache. Safe to call more than once."""

    async def teardown(self, *, delete_data: bool = False) -> None:  # noqa: B027 - optional
        """Release connections. Safe to call more than once.

        Args:
            delete_data: Also drop every entry this cache holds under its namespace.
        """

    @abstractmethod
    async def get(self, object_id: str) -> dict[str, Any] | None:
        """Return the cached object, or ``None`` on a miss."""

    get_nowait: Callable[[str], dict[str, Any] | None] | None = None
    """An in-process cache may set this to a plain function doing what :meth:`get` does;
    the store then reads it without the cost of awaiting a coroutine."""

    @abstractmethod
    async def set(self, object_id: str, obj: dict[str, Any], *, ttl: float | None = None) -> None:
        """Cache ``obj`` under ``object_id``.

        Args:
            object_id: The key.
            obj: The object.
            ttl: Seconds this entry lives; the cache's default time-to-live when ``None``.
        """

    async def set_many(self, objs: Sequence[dict[str, Any]], *, ttl: float | None = None) -> None:
        """Cache every object under its id; caches override this with one round trip."""
        for obj in objs:
            await self.set(obj["id"], obj, ttl=ttl)

    @abstractmethod
    async def delete(self, object_id: str) -> None:
        """Drop ``object_id`` from the cache, if present."""
