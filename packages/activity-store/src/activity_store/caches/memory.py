"""An in-process cache with a time-to-live per entry, holding read-only objects."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Self

from activity_store._copy import freeze
from activity_store.interfaces import CacheBackend
from activity_store.settings import ActivityStoreSettings

__all__ = ["MemoryCache"]


class MemoryCache(CacheBackend):
    """Caches read-only copies of objects in this instance, each for its own time-to-live.

    An object is frozen once when cached (``dict`` and ``list`` subclasses that refuse
    changes), so a hit returns it without copying and no caller can change what others read.
    Expired entries are dropped when read and swept when the cache is full; when it is still
    full, the oldest entry goes.

    Args:
        ttl: Seconds an entry lives unless :meth:`set` is given its own (default one hour).
        maxsize: Most entries kept.
        clock: Monotonic time source in seconds (replaceable in tests).
    """

    def __init__(
        self,
        ttl: float = 3600.0,
        *,
        maxsize: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or maxsize <= 0:
            raise ValueError("ttl and maxsize must be positive")
        self.ttl = ttl
        self.maxsize = maxsize
        self._clock = clock
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self.get_nowait = self._get

    @classmethod
    def from_env(cls, *, namespace: str) -> Self:
        """Build the cache with ``ACTIVITY_STORE_CACHE_TTL`` (the namespace is not needed)."""
        return cls(ActivityStoreSettings.load().cache_ttl)

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, object_id: str) -> dict[str, Any] | None:
        """Return the cached (read-only) object, or ``None`` when absent or expired."""
        return self._get(object_id)

    def _get(self, object_id: str) -> dict[str, Any] | None:
        entry = self._entries.get(object_id)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[object_id]
            return None
        return entry[1]

    async def set(self, object_id: str, obj: dict[str, Any], *, ttl: float | None = None) -> None:
        """Cache a read-only copy of ``obj`` for ``ttl`` seconds (default: the cache's).

        Raises:
            ValueError: ``ttl`` is not positive.
        """
        lifetime = self.ttl if ttl is None else _positive(ttl)
        self._entries.pop(object_id, None)
        if len(self._entries) >= self.maxsize:
            self._make_room()
        self._entries[object_id] = (self._clock() + lifetime, freeze(obj))

    async def delete(self, object_id: str) -> None:
        """Drop ``object_id`` from the cache."""
        self._entries.pop(object_id, None)

    async def teardown(self, *, delete_data: bool = False) -> None:
        """Drop every entry when ``delete_data`` is true."""
        if delete_data:
            self._entries.clear()

    def _make_room(self) -> None:
        now = self._clock()
        for key in [key for key, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) >= self.maxsize:
            del self._entries[next(iter(self._entries))]


def _positive(ttl: float) -> float:
    if not ttl > 0:
        raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
    return ttl
