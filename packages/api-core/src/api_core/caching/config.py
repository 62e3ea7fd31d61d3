"""Cache configuration shared by every provider."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CacheConfig"]


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """How a cache provider behaves.

    Attributes:
        ttl: Default seconds an entry lives (``set`` may override per entry).
        max_size: Entries an in-memory cache holds before evicting the least recently used.
        key_prefix: Prepended to every key (namespaces a service or a test).
    """

    ttl: float = 3600
    max_size: int = 1000
    key_prefix: str = ""

    def __post_init__(self) -> None:
        if self.ttl <= 0:
            raise ValueError(f"CacheConfig.ttl must be > 0 seconds, got {self.ttl}")
        if self.max_size <= 0:
            raise ValueError(f"CacheConfig.max_size must be > 0, got {self.max_size}")
