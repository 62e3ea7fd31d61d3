"""Read caches: ``memory`` (built in) and ``redis`` (extra ``activity-store[redis]``).

The Redis cache is not imported here, so importing this package never needs the extra; import
:mod:`activity_store.caches.redis` or select it by name.
"""

from activity_store.caches.memory import MemoryCache

__all__ = ["MemoryCache"]
