"""The two plugin contracts: where objects live (backends) and what speeds up reads (caches).

A third-party backend subclasses :class:`StorageBackend`, registers it in the
``activity_store.backends`` entry-point group and checks itself with the conformance suite in
:mod:`activity_store.testing`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
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

    async def teardown(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release connections. Never deletes data. Safe to call more than once."""

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

    @abstractmethod
    async def remove_member(self, collection: str, object_id: str) -> bool:
        """Remove ``object_id`` from ``collection``; return whether it was a member."""

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

    async def teardown(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release connections. Safe to call more than once."""

    @abstractmethod
    async def get(self, object_id: str) -> dict[str, Any] | None:
        """Return the cached object, or ``None`` on a miss."""

    @abstractmethod
    async def set(self, object_id: str, obj: dict[str, Any]) -> None:
        """Cache ``obj`` under ``object_id`` for the cache's time-to-live."""

    async def set_many(self, objs: Sequence[dict[str, Any]]) -> None:
        """Cache every object under its id; caches override this with one round trip."""
        for obj in objs:
            await self.set(obj["id"], obj)

    @abstractmethod
    async def delete(self, object_id: str) -> None:
        """Drop ``object_id`` from the cache, if present."""
