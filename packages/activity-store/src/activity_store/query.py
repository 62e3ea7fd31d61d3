"""The query model shared by every backend, and the page it returns."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Literal, NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["SORT_FIELDS", "Page", "Query", "decode_cursor", "encode_cursor"]

SORT_FIELDS = ("published", "updated", "id")
"""The properties a query can sort by; ``id`` is always the tie-breaker."""

_SORT_RE = re.compile(r"^(published|updated|id)(?::(asc|desc))?$")


class Page(TypedDict):
    """One page of query results, shaped as an ActivityStreams collection.

    ``type`` is ``"OrderedCollection"`` when the query was sorted, else ``"Collection"``;
    ``next`` (the cursor to pass as ``after``) is present only when more results exist.
    """

    type: Literal["Collection", "OrderedCollection"]
    totalItems: int
    items: list[dict[str, Any]]
    next: NotRequired[str]


def encode_cursor(values: list[Any]) -> str:
    """Encode a backend's position (a JSON-able list) as an opaque ``after`` cursor."""
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """Decode a cursor made by :func:`encode_cursor`.

    Raises:
        ValueError: the cursor was not produced by this library.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor returned as 'next' by a previous query") from exc
    if not isinstance(values, list) or not values:
        raise ValueError("not a cursor returned as 'next' by a previous query")
    return values


class Query(BaseModel):
    """What to find. Every backend gives these fields the same meaning.

    Attributes:
        text: Every word must occur (case-insensitively, as a whole word) in the object's
            name, summary or content.
        keywords: At least one must equal (case-insensitively) the name of one of the
            object's ``tag`` entries.
        sort: ``"published"``, ``"updated"`` or ``"id"``, optionally with ``":asc"`` (the
            default) or ``":desc"``. Objects without the property come last; ``id`` breaks
            ties. Unsorted queries are ordered by ``id``.
        size: Items per page, 1 to 1000 (default 10).
        after: The ``next`` cursor of the previous page.
        collection: Only members of this collection (an unknown collection matches nothing).
        type: One type or a list; an object matches when it has any of them. Types are
            compared in expanded form, so ``Note``, ``as:Note`` and
            ``https://www.w3.org/ns/activitystreams#Note`` are one type.
        include_deleted: Also match a Tombstone by its ``formerType`` (by default a
            Tombstone only has the type ``Tombstone``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = None
    keywords: list[str] = Field(default_factory=list)
    sort: str | None = None
    size: int = Field(default=10, gt=0, le=1000)
    after: str | None = None
    collection: str | None = None
    type: list[str] | None = None
    include_deleted: bool = False

    @field_validator("keywords", mode="before")
    @classmethod
    def _one_keyword(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("type", mode="before")
    @classmethod
    def _one_type(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("sort")
    @classmethod
    def _check_sort(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _SORT_RE.match(value):
            raise ValueError(
                "must be one of published, updated or id, optionally followed by ':asc' or "
                f"':desc' (e.g. 'published:desc'), got {value!r}"
            )
        return value

    @field_validator("after")
    @classmethod
    def _check_after(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value)
        return value

    @property
    def sort_field(self) -> str:
        """The field results are ordered by (``id`` when unsorted)."""
        return (self.sort or "id").partition(":")[0]

    @property
    def descending(self) -> bool:
        """Whether the sort runs from high to low."""
        return (self.sort or "").endswith(":desc")

    def with_after(self, after: str | None) -> Query:
        """Return a copy of this query that continues after the cursor ``after``."""
        return self.model_copy(update={"after": after})
