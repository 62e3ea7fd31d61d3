"""What the conformance modules share: the backend factory type, paging, object builder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from activity_store.interfaces import StorageBackend
from activity_store.ld import ensure_context
from activity_store.query import Query

__all__ = ["BackendMaker", "obj", "page_through"]

BackendMaker = Callable[[str], Awaitable[StorageBackend]]
"""An async factory: namespace suffix -> a set-up backend (same suffix, same data)."""


async def page_through(backend: StorageBackend, fields: dict[str, Any]) -> tuple[list[str], int]:
    """Follow ``next`` cursors from the first page to the last.

    Returns:
        The ids in the order visited, and the ``totalItems`` of the first page.
    """
    first = await backend.query(Query(**fields))
    total = first["totalItems"]
    page, ids = first, [item["id"] for item in first["items"]]
    while "next" in page:
        assert page["totalItems"] == total, "totalItems changed between pages"
        page = await backend.query(Query(**fields, after=page["next"]))
        ids.extend(item["id"] for item in page["items"])
        assert len(ids) <= total, f"paging returned more than totalItems={total}"
    return ids, total


def obj(suffix: str, kind: str | list[str] = "Note", **fields: Any) -> dict[str, Any]:
    """An object ``https://example.org/o/{suffix}`` of type ``kind`` with ``fields``."""
    return ensure_context({"id": f"https://example.org/o/{suffix}", "type": kind, **fields})
