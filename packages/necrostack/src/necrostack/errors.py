"""Errors raised by necrostack.

Hierarchy::

    PlatformError (platform_core)
    └── NecroStackError                root of every error necrostack raises on purpose
        ├── OrganValidationError       an organ given to the Spine is malformed (also TypeError)
        ├── HandlerTimeoutError        a handler ran past its timeout (also TimeoutError)
        ├── ShutdownTimeoutError       a handler still ran when the shutdown grace period ended
        ├── EventTooLargeError         an event's JSON is over the size limit (also ValueError)
        └── BackendError               a backend could not do what was asked
            ├── EventDecodeError       a stored entry is not a valid Event (sent to dead letters)
            └── BackendFullError       a bounded in-memory backend stayed full

Connection failures surface as :class:`platform_core.errors.DependencyUnavailableError` with
the transport exception kept as ``__cause__``; a bad setting as
:class:`platform_core.errors.ConfigurationError` naming the variable.
"""

from __future__ import annotations

from platform_core.errors import PlatformError

__all__ = [
    "BackendError",
    "BackendFullError",
    "EventDecodeError",
    "EventTooLargeError",
    "HandlerTimeoutError",
    "NecroStackError",
    "OrganValidationError",
    "ShutdownTimeoutError",
]


class NecroStackError(PlatformError):
    """Root of every error necrostack raises deliberately."""


class OrganValidationError(NecroStackError, TypeError):
    """An organ passed to :class:`~necrostack.Spine` is malformed.

    Args:
        organ: The organ's name.
        message: What is wrong and how to fix it.
    """

    def __init__(self, organ: str, message: str) -> None:
        super().__init__(f"organ {organ!r}: {message}")
        self.organ = organ


class BackendError(NecroStackError):
    """A backend operation failed for a reason other than an unreachable service."""


class EventDecodeError(BackendError):
    """A stored entry could not be turned back into an :class:`~necrostack.Event`.

    Args:
        reason: Why decoding failed.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"entry is not a valid necrostack event: {reason}")
        self.reason = reason


class BackendFullError(BackendError):
    """A bounded backend had no room for an event within the time allowed."""


class HandlerTimeoutError(NecroStackError, TimeoutError):
    """A handler ran longer than its organ's ``timeout``.

    Args:
        organ: The organ's name.
        seconds: The timeout that was exceeded.
    """

    def __init__(self, organ: str, seconds: float) -> None:
        super().__init__(f"organ {organ!r} did not finish within its {seconds:g}s timeout")
        self.organ = organ
        self.seconds = seconds


class ShutdownTimeoutError(NecroStackError):
    """A handler was still running when the Spine's ``shutdown_timeout`` ran out.

    Args:
        organ: The organ's name.
        seconds: The grace period that ran out.
    """

    def __init__(self, organ: str, seconds: float) -> None:
        super().__init__(
            f"organ {organ!r} was still running {seconds:g}s after shutdown began; "
            "the event was nacked"
        )
        self.organ = organ
        self.seconds = seconds


class EventTooLargeError(NecroStackError, ValueError):
    """An event's JSON form is larger than the backend's publish limit.

    Args:
        event_id: The event's id.
        size: Its size in bytes.
        limit: The limit in bytes.
    """

    def __init__(self, event_id: str, size: int, limit: int) -> None:
        super().__init__(
            f"event {event_id} is {size} bytes as JSON, over the {limit}-byte limit "
            "(max_event_bytes); keep large data elsewhere and put a reference in the payload"
        )
        self.size = size
        self.limit = limit
