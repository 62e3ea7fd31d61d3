"""necrostack: events, the organs that handle them, and the Spine that dispatches between them.

Backends are plugins in the ``necrostack.backends`` entry-point group: ``memory``
(:class:`InMemoryBackend`) and ``redis`` (``necrostack.backends.redis.RedisBackend``, extra
``necrostack[redis]``); :func:`load_backend` picks one by name.
"""

from necrostack.backends.base import Backend, DeadLetter, DeadLetterHook
from necrostack.backends.memory import InMemoryBackend
from necrostack.errors import (
    BackendError,
    EventDecodeError,
    NecroStackError,
    OrganValidationError,
)
from necrostack.event import CAUSATION_ID, TRACEPARENT, TRACESTATE, Event
from necrostack.loading import load_backend
from necrostack.organ import HandlerResult, Organ
from necrostack.spine import Spine

__all__ = [
    "CAUSATION_ID",
    "TRACEPARENT",
    "TRACESTATE",
    "Backend",
    "BackendError",
    "DeadLetter",
    "DeadLetterHook",
    "Event",
    "EventDecodeError",
    "HandlerResult",
    "InMemoryBackend",
    "NecroStackError",
    "Organ",
    "OrganValidationError",
    "Spine",
    "load_backend",
]
