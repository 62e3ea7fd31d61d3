"""Hypothesis strategies for LD-objects and queries over a small vocabulary.

The vocabulary is small on purpose: generated objects share words, tags, types and dates, so
queries match several objects, sorting meets ties, and paging crosses page boundaries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

__all__ = ["COLLECTIONS", "WORDS", "ld_objects", "queries"]

WORDS = ("apple", "Banana", "cherry", "DATE", "elder", "fig")
TAGS = ("#python", "Rust", "go")
TYPES = ("Note", "Article", "Person", "Create")
COLLECTIONS = ("https://example.org/c/one", "https://example.org/c/two")
_SPELLINGS = ("", "", "as:", "https://www.w3.org/ns/activitystreams#")
_DATES = [
    (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i in range(5)
]

_sentences = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).flatmap(
    lambda ws: st.sampled_from([" ", ", ", "! "]).map(lambda sep: sep.join(ws))
)


@st.composite
def _object(draw: st.DrawFn, object_id: str) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True))
    # The same type spelled as a term, a compact IRI or a full IRI is one type.
    kinds = [draw(st.sampled_from(_SPELLINGS)) + kind for kind in kinds]
    obj: dict[str, Any] = {"id": object_id, "type": kinds[0] if len(kinds) == 1 else kinds}
    for field in ("name", "summary", "content"):
        if draw(st.booleans()):
            obj[field] = draw(_sentences)
    tags = draw(st.lists(st.sampled_from(TAGS), max_size=2, unique=True))
    if tags:
        obj["tag"] = [{"type": "Hashtag", "name": tag} for tag in tags]
    for field in ("published", "updated"):
        if draw(st.booleans()):
            obj[field] = draw(st.sampled_from(_DATES))
    return obj


@st.composite
def ld_objects(draw: st.DrawFn, max_size: int = 12) -> list[dict[str, Any]]:
    """A list of valid objects with distinct ids (some ids share prefixes)."""
    ids = draw(
        st.lists(
            st.text(alphabet="abAB01-", min_size=1, max_size=4), max_size=max_size, unique=True
        )
    )
    return [draw(_object(f"https://example.org/o/{suffix}")) for suffix in ids]


@st.composite
def queries(draw: st.DrawFn) -> dict[str, Any]:
    """Query fields (as a dict) using the same vocabulary as :func:`ld_objects`."""
    query: dict[str, Any] = {"size": draw(st.integers(min_value=1, max_value=5))}
    if draw(st.booleans()):
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=2))
        query["text"] = " ".join(w.swapcase() if draw(st.booleans()) else w for w in words)
    if draw(st.booleans()):
        query["keywords"] = draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=2))
    if draw(st.booleans()):
        query["type"] = draw(
            st.lists(st.sampled_from((*TYPES, "Tombstone")), min_size=1, max_size=2)
        )
        query["include_deleted"] = draw(st.booleans())
    sort = draw(st.sampled_from([None, "published", "updated", "id"]))
    if sort is not None:
        query["sort"] = sort + draw(st.sampled_from(["", ":asc", ":desc"]))
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        query["collection"] = draw(st.sampled_from(COLLECTIONS))
    return query
