"""Choosing a cache provider by name through the ``api_core.caches`` entry points."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api_core.caching.config import CacheConfig
from platform_core.plugins import load_plugin

if TYPE_CHECKING:
    from api_core.protocols import CacheProvider

__all__ = ["CACHE_GROUP", "create_cache"]

CACHE_GROUP = "api_core.caches"


def create_cache(
    name: str,
    config: CacheConfig | None = None,
    *,
    redis_settings: Any = None,
    setting: str | None = None,
) -> CacheProvider:
    """Build the cache provider registered as ``name`` (``memory``, ``redis``, ``layered``
    or any installed third-party plugin).

    Args:
        name: The plugin name, usually from a setting.
        config: TTL, size and key prefix.
        redis_settings: :class:`platform_core.redis.RedisSettings` for Redis-backed plugins.
        setting: The setting that chose ``name``, named in errors.

    Raises:
        PluginNotFoundError: no such plugin; the message lists the installed ones.
        MissingExtraError: the plugin needs ``api-core[redis]``.
    """
    plugin = load_plugin(CACHE_GROUP, name, setting=setting)
    provider: CacheProvider = plugin.from_config(config or CacheConfig(), redis_settings)
    return provider
