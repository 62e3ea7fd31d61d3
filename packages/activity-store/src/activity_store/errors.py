"""Errors raised by activity_store.

Hierarchy::

    PlatformError                       (platform_core.errors)
    └── ActivityStoreError              root of everything this package raises on purpose;
        │                               also raised for backend transport failures (cause kept)
        ├── ObjectNotFound (KeyError)   no object with that id in the store
        └── InvalidLDObject (ValueError) the dict is not a storable LD-object (id/type missing)

Configuration problems (unknown backend name, missing extra, bad setting) are raised as
:class:`platform_core.errors.ConfigurationError` subclasses, which name the setting to fix.
"""

from __future__ import annotations

from platform_core.errors import PlatformError

__all__ = ["ActivityStoreError", "InvalidLDObject", "ObjectNotFound"]


class ActivityStoreError(PlatformError):
    """Root of the errors activity_store raises, and the wrapper for backend failures."""


class ObjectNotFound(ActivityStoreError, KeyError):  # noqa: N818 - public name fixed by the spec
    """No object with the requested id exists.

    Args:
        object_id: The id that was looked up.
    """

    def __init__(self, object_id: str) -> None:
        super().__init__(
            f"no object with id {object_id!r}; store it first with ActivityStore.store()"
        )
        self.object_id = object_id

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message; keep it readable.
        return str(self.args[0])


class InvalidLDObject(ActivityStoreError, ValueError):  # noqa: N818 - public name fixed by spec
    """The object cannot be stored: it lacks a usable ``id`` or ``type``.

    Args:
        message: What is wrong with the object and how to fix it.
    """
