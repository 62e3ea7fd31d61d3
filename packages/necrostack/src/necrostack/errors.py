"""Errors raised by necrostack.

Hierarchy::

    PlatformError (platform_core)
    └── NecroStackError                root of every error necrostack raises on purpose
        ├── OrganValidationError       an organ given to the Spine is malformed (also TypeError)
        └── BackendError               a backend could not do what was asked
            └── EventDecodeError       a stored entry is not a valid Event (sent to dead letters)

Connection failures surface as :class:`platform_core.errors.DependencyUnavailableError` with
the transport exception kept as ``__cause__``; a bad setting as
:class:`platform_core.errors.ConfigurationError` naming the variable.
"""

from __future__ import annotations

from platform_core.errors import PlatformError

__all__ = ["BackendError", "EventDecodeError", "NecroStackError", "OrganValidationError"]


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
