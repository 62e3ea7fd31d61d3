"""necrostack: events, the organs that handle them, and the Spine that dispatches between them.

Backends are plugins in the ``necrostack.backends`` entry-point group: ``memory``
(:class:`InMemoryBackend`) and ``redis`` (``necrostack.backends.redis.RedisBackend``, extra
``necrostack[redis]``); :func:`load_backend` picks one by name.
"""

from necrostack.backends.base import Backend, DeadLetter, DeadLetterHook, NackOutcome
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
from necrostack.event import CAUSATION_ID, TRACEPARENT, TRACESTATE, Event
from necrostack.loading import load_backend
from necrostack.organ import FailurePolicy, HandlerResult, Organ
from necrostack.spine import Spine
from necrostack.stats import SpineStats, TypeStats

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
    "HandlerResult",
    "HandlerTimeoutError",
    "InMemoryBackend",
    "NackOutcome",
    "NecroStackError",
    "Organ",
    "OrganValidationError",
    "ShutdownTimeoutError",
    "Spine",
    "SpineStats",
    "TypeStats",
    "load_backend",
]
