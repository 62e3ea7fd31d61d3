"""Errors raised by activity_store.

Hierarchy::

    PlatformError                       (platform_core.errors)
    └── ActivityStoreError              root of everything this package raises on purpose;
        │                               also raised for backend transport failures (cause kept)
        ├── ObjectNotFound (KeyError)   no object with that id in the store (or collection)
        ├── InvalidLDObject (ValueError) the dict is not a storable LD-object (id/type missing)
        ├── InvalidQuery (ValueError)   the query cannot mean anything (e.g. text with no word)
        └── ContextNotAllowed (ValueError) a document names a remote JSON-LD context that is
                                        neither bundled nor allowed; nothing was fetched

Configuration problems (unknown backend name, missing extra, bad setting) are raised as
:class:`platform_core.errors.ConfigurationError` subclasses, which name the setting to fix.
"""

from __future__ import annotations

from platform_core.errors import PlatformError

__all__ = [
    "ActivityStoreError",
    "ContextNotAllowed",
    "InvalidLDObject",
    "InvalidQuery",
    "ObjectNotFound",
]


class ActivityStoreError(PlatformError):
    """Root of the errors activity_store raises, and the wrapper for backend failures."""


class ObjectNotFound(ActivityStoreError, KeyError):  # noqa: N818 - public name fixed by the spec
    """No object with the requested id exists.

    Args:
        object_id: The id that was looked up.
        collection: The collection it was looked up in, if any.
    """

    def __init__(self, object_id: str, collection: str | None = None) -> None:
        if collection is None:
            message = f"no object with id {object_id!r}; store it first with ActivityStore.store()"
        else:
            message = (
                f"no object with id {object_id!r} in collection {collection!r}; add it first "
                "with ActivityStore.add_to_collection()"
            )
        super().__init__(message)
        self.object_id = object_id
        self.collection = collection

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message; keep it readable.
        return str(self.args[0])


class InvalidLDObject(ActivityStoreError, ValueError):  # noqa: N818 - public name fixed by spec
    """The object cannot be stored: it lacks a usable ``id`` or ``type``.

    Args:
        message: What is wrong with the object and how to fix it.
    """


class InvalidQuery(ActivityStoreError, ValueError):  # noqa: N818 - named like its siblings
    """The query cannot be answered meaningfully, e.g. ``text`` holding no word at all.

    Args:
        message: What is wrong with the query and how to fix it.
    """


class ContextNotAllowed(ActivityStoreError, ValueError):  # noqa: N818 - named like siblings
    """A document refers to a remote JSON-LD context that is neither bundled nor allowed.

    Nothing is fetched over the network: pass a :class:`~activity_store.ld.ContextLoader`
    with an allow-list and a source for the context to resolve it.

    Args:
        url: The context IRI that was refused.
    """

    def __init__(self, url: str) -> None:
        super().__init__(
            f"JSON-LD context {url!r} is not bundled with activity_store and not in the "
            "allow-list; nothing was fetched. Pass it in with "
            "activity_store.jsonld.use_loader(ContextLoader(contexts={url: document})) or "
            "remove it from '@context'"
        )
        self.url = url
