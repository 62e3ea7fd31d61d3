"""An in-process cache with a time-to-live."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Self

from activity_store._copy import json_copy
from activity_store.interfaces import CacheBackend
from activity_store.settings import ActivityStoreSettings

__all__ = ["MemoryCache"]


class MemoryCache(CacheBackend):
    """Caches copies of objects in this instance for ``ttl`` seconds.

    Expired entries are dropped when read and swept when the cache is full; when it is still
    full, the oldest entry goes.

    Args:
        ttl: Seconds an entry lives (default one hour).
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

    @classmethod
    def from_env(cls, *, namespace: str) -> Self:
        """Build the cache with ``ACTIVITY_STORE_CACHE_TTL`` (the namespace is not needed)."""
        return cls(ActivityStoreSettings.load().cache_ttl)

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, object_id: str) -> dict[str, Any] | None:
        """Return a copy of the cached object, or ``None`` when absent or expired."""
        entry = self._entries.get(object_id)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[object_id]
            return None
        copied: dict[str, Any] = json_copy(entry[1])
        return copied

    async def set(self, object_id: str, obj: dict[str, Any]) -> None:
        """Cache a copy of ``obj`` for ``ttl`` seconds."""
        self._entries.pop(object_id, None)
        if len(self._entries) >= self.maxsize:
            self._make_room()
        self._entries[object_id] = (self._clock() + self.ttl, json_copy(obj))

    async def delete(self, object_id: str) -> None:
        """Drop ``object_id`` from the cache."""
        self._entries.pop(object_id, None)

    def _make_room(self) -> None:
        now = self._clock()
        for key in [key for key, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) >= self.maxsize:
            del self._entries[next(iter(self._entries))]
