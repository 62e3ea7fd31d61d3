"""necrostack: events, the organs that handle them, and the Spine that dispatches between them.

Backends are plugins in the ``necrostack.backends`` entry-point group: ``memory``
(:class:`InMemoryBackend`) and ``redis`` (``necrostack.backends.redis.RedisBackend``, extra
``necrostack[redis]``); :func:`load_backend` picks one by name. Feeds
(:mod:`necrostack.feeds`: :class:`MemoryFeed`, :class:`RedisFeed`) broadcast events on
channels to every reader, resumable by id, for live views such as Server-Sent Events.

Names are imported on first use (PEP 562): ``import necrostack`` loads nothing else, and a
process pays for pydantic, OpenTelemetry and asyncio's machinery only when it touches a name
that needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platform_core.lazy import lazy_exports

if TYPE_CHECKING:
    from necrostack.backends.base import (
        Backend,
        DeadLetter,
        DeadLetterHook,
        NackOutcome,
    )
    from necrostack.backends.memory import InMemoryBackend
    from necrostack.errors import (
        BackendError,
        BackendFullError,
        EventDecodeError,
        EventTooLargeError,
        HandlerTimeoutError,
        NecroStackError,
        OrganValidationError,
        ShutdownTimeoutError,
    )
    from necrostack.event import (
        CAUSATION_ID,
        TRACEPARENT,
        TRACESTATE,
        Event,
    )
    from necrostack.feeds import Feed, FeedEntry
    from necrostack.feeds.memory import MemoryFeed
    from necrostack.feeds.redis import RedisFeed
    from necrostack.loading import load_backend
    from necrostack.organ import (
        FailurePolicy,
        HandlerResult,
        Organ,
    )
    from necrostack.spine import Spine
    from necrostack.stats import (
        SpineStats,
        TypeStats,
    )

__all__ = [
    "CAUSATION_ID",
    "TRACEPARENT",
    "TRACESTATE",
    "Backend",
    "BackendError",
    "BackendFullError",
    "DeadLetter",
    "DeadLetterHook",
    "Event",
    "EventDecodeError",
    "EventTooLargeError",
    "FailurePolicy",
    "Feed",
    "FeedEntry",
    "HandlerResult",
    "HandlerTimeoutError",
    "InMemoryBackend",
    "MemoryFeed",
    "NackOutcome",
    "NecroStackError",
    "Organ",
    "OrganValidationError",
    "RedisFeed",
    "ShutdownTimeoutError",
    "Spine",
    "SpineStats",
    "TypeStats",
    "load_backend",
]

_EXPORTS = {
    "Backend": "necrostack.backends.base",
    "BackendError": "necrostack.errors",
    "BackendFullError": "necrostack.errors",
    "CAUSATION_ID": "necrostack.event",
    "DeadLetter": "necrostack.backends.base",
    "DeadLetterHook": "necrostack.backends.base",
    "Event": "necrostack.event",
    "EventDecodeError": "necrostack.errors",
    "EventTooLargeError": "necrostack.errors",
    "FailurePolicy": "necrostack.organ",
    "Feed": "necrostack.feeds",
    "FeedEntry": "necrostack.feeds",
    "HandlerResult": "necrostack.organ",
    "HandlerTimeoutError": "necrostack.errors",
    "InMemoryBackend": "necrostack.backends.memory",
    "MemoryFeed": "necrostack.feeds.memory",
    "NackOutcome": "necrostack.backends.base",
    "NecroStackError": "necrostack.errors",
    "Organ": "necrostack.organ",
    "OrganValidationError": "necrostack.errors",
    "RedisFeed": "necrostack.feeds.redis",
    "ShutdownTimeoutError": "necrostack.errors",
    "Spine": "necrostack.spine",
    "SpineStats": "necrostack.stats",
    "TRACEPARENT": "necrostack.event",
    "TRACESTATE": "necrostack.event",
    "TypeStats": "necrostack.stats",
    "load_backend": "necrostack.loading",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
