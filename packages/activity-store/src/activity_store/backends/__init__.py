"""Storage backends: ``memory`` (built in) and ``elasticsearch`` (extra ``activity-store[es]``).

The Elasticsearch backend is not imported here, so importing this package never needs the
extra; import :mod:`activity_store.backends.elasticsearch` or select it by name.
"""

from activity_store.backends.memory import MemoryBackend

__all__ = ["MemoryBackend"]
