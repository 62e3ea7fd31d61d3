"""Query evaluation in Python: the reference meaning of :class:`~activity_store.query.Query`.

The memory backend runs queries with these functions; the Elasticsearch backend translates the
same rules into its query DSL, and the conformance suite checks that both agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from activity_store._index import Indexed, query_words
from activity_store.ld import type_iris
from activity_store.query import Page, Query, decode_cursor, encode_cursor

Entry = tuple[dict[str, Any], Indexed]


def matches(ix: Indexed, query: Query) -> bool:
    """Whether the indexed object satisfies the query's filters (not its collection)."""
    wanted_words = query_words(query.text)
    if wanted_words and not ix.words.issuperset(wanted_words):
        return False
    if query.keywords:
        wanted = {keyword.lower() for keyword in query.keywords}
        if wanted.isdisjoint(ix.tags):
            return False
    if query.type is None:
        return True
    return not set(type_iris(query.type)).isdisjoint(ix.all_types(query.include_deleted))


def _position(value: int | None, object_id: str, field: str, descending: bool) -> tuple[Any, ...]:
    if field == "id":
        if not descending:
            return (object_id,)
        # Reverse code-point order; the trailing 1 sorts a prefix after its extensions.
        return (*(-ord(ch) for ch in object_id), 1)
    if value is None:
        return (1, 0, object_id)  # objects without the date come last in both directions
    return (0, -value if descending else value, object_id)


def run_query(entries: Iterable[Entry], query: Query) -> Page:
    """Filter, order and page ``entries`` as ``query`` asks."""
    field, descending = query.sort_field, query.descending

    def key(entry: Entry) -> tuple[Any, ...]:
        ix = entry[1]
        value = None if field == "id" else ix.sort_value(field)
        return _position(value, ix.id, field, descending)

    query_words(query.text)  # an empty text query is refused even when nothing is stored
    found = sorted((entry for entry in entries if matches(entry[1], query)), key=key)
    total = len(found)
    start = 0
    if query.after is not None:
        value, object_id = decode_cursor(query.after)[-2:]
        after = _position(value, str(object_id), field, descending)
        # bisect by key: the first entry strictly after the cursor's position
        lo, hi = 0, total
        while lo < hi:
            mid = (lo + hi) // 2
            if key(found[mid]) <= after:
                lo = mid + 1
            else:
                hi = mid
        start = lo
    window = found[start : start + query.size + 1]
    page: Page = {
        "type": "OrderedCollection" if query.sort else "Collection",
        "totalItems": total,
        "items": [obj for obj, _ in window[: query.size]],
    }
    if len(window) > query.size:
        last = window[query.size - 1][1]
        value = None if field == "id" else last.sort_value(field)
        page["next"] = encode_cursor([value, last.id])
    return page
