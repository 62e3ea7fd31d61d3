"""In-process cache with LRU eviction at ``max_size`` and per-entry TTL."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from api_core.caching.config import CacheConfig

__all__ = ["MemoryCache"]


class MemoryCache:
    """An LRU + TTL cache living in this process; satisfies ``CacheProvider``.

    Operations never await anything, so they are atomic with respect to other tasks.

    Args:
        config: TTL, size and key prefix.
        clock: Monotonic clock in seconds (tests may pass a fake one).
    """

    def __init__(self, config: CacheConfig | None = None, *, clock: Any = time.monotonic) -> None:
        self.config = config or CacheConfig()
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    @classmethod
    def from_config(cls, config: CacheConfig, redis_settings: Any = None) -> MemoryCache:
        """Plugin constructor (``api_core.caches`` entry point ``memory``)."""
        return cls(config)

    def __len__(self) -> int:
        return len(self._data)

    def get_nowait(self, key: str) -> Any | None:
        """Synchronous :meth:`get`, for callers already on the hot path."""
        full = self.config.key_prefix + key
        entry = self._data.get(full)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._data[full]
            return None
        self._data.move_to_end(full)
        return entry[1]

    async def get(self, key: str) -> Any | None:
        """Return the live value for ``key`` (and mark it recently used), or ``None``."""
        return self.get_nowait(key)

    def set_nowait(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Synchronous :meth:`set`."""
        full = self.config.key_prefix + key
        expires = self._clock() + (ttl if ttl is not None else self.config.ttl)
        self._data[full] = (expires, value)
        self._data.move_to_end(full)
        while len(self._data) > self.config.max_size:
            self._data.popitem(last=False)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` for ``ttl`` seconds, evicting the least recently used past
        ``max_size``."""
        self.set_nowait(key, value, ttl)

    def delete_nowait(self, key: str) -> None:
        """Synchronous :meth:`delete`."""
        self._data.pop(self.config.key_prefix + key, None)

    async def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        self.delete_nowait(key)

    def clear_nowait(self) -> None:
        """Synchronous :meth:`clear`."""
        self._data.clear()

    async def clear(self) -> None:
        """Remove every entry."""
        self._data.clear()
