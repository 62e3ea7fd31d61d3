"""Caching: memory (LRU + TTL), Redis (fail-open), layered with pub/sub invalidation, and
``@cached`` with single-flight. Providers are ``api_core.caches`` plugins."""

from api_core.caching.config import CacheConfig
from api_core.caching.decorator import CachedFunction, cached, default_key
from api_core.caching.factory import CACHE_GROUP, create_cache
from api_core.caching.memory import MemoryCache

__all__ = [
    "CACHE_GROUP",
    "CacheConfig",
    "CachedFunction",
    "MemoryCache",
    "cached",
    "create_cache",
    "default_key",
]
