"""What the Elasticsearch backend writes: index mappings, document ids and searchable fields."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from activity_store._index import Indexed
from activity_store.ld import AS_NAMESPACE

__all__ = [
    "COLLECTIONS_MAPPING",
    "OBJECTS_MAPPING",
    "document_id",
    "membership_id",
    "search_fields",
    "with_short_terms",
]

_SEARCH_FIELDS: dict[str, Any] = {
    "id": {"type": "keyword"},
    "type": {"type": "keyword"},
    "formerType": {"type": "keyword"},
    "tag": {"type": "keyword"},
    "words": {"type": "keyword"},
    "name": {"type": "text"},
    "summary": {"type": "text"},
    "content": {"type": "text"},
    "published": {"type": "date"},
    "updated": {"type": "date"},
}
OBJECTS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {**_SEARCH_FIELDS, "object": {"type": "object", "enabled": False}},
}
COLLECTIONS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        **_SEARCH_FIELDS,
        "collection": {"type": "keyword"},
        "member": {"type": "object", "enabled": False},
    },
}


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(item for item in value if isinstance(item, str)) or None
    return None


def search_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The indexed fields of ``obj``'s document, computed as every backend computes them."""
    ix = Indexed.of(obj)
    doc: dict[str, Any] = {
        "id": ix.id,
        "type": list(ix.types),
        "formerType": list(ix.former_types),
        "tag": list(ix.tags),
        "words": sorted(ix.words),
    }
    for field in ("name", "summary", "content"):
        text = _text(obj.get(field))
        if text is not None:
            doc[field] = text
    # Dates go in as epoch milliseconds, parsed the same way the memory backend parses them.
    if ix.published is not None:
        doc["published"] = ix.published
    if ix.updated is not None:
        doc["updated"] = ix.updated
    return doc


_MAX_ID_BYTES = 512
_HASHED = "sha256:"


def document_id(object_id: str) -> str:
    """The Elasticsearch document id of ``object_id``.

    Ids up to 512 bytes are used as they are; longer ones, and any starting with
    ``sha256:``, become ``sha256:`` and the hex digest of the id, so two objects never share a
    document.
    """
    raw = object_id.encode("utf-8", "surrogatepass")
    if len(raw) <= _MAX_ID_BYTES and not object_id.startswith(_HASHED):
        return object_id
    return _HASHED + hashlib.sha256(raw).hexdigest()


def membership_id(collection: str, object_id: str) -> str:
    """The document id of ``object_id``'s entry in ``collection``."""
    return hashlib.sha256(json.dumps([collection, object_id]).encode()).hexdigest()


def with_short_terms(iris: tuple[str, ...]) -> list[str]:
    """Type IRIs to match, plus the plain ActivityStreams terms of the AS ones."""
    # Documents indexed before types were expanded hold ActivityStreams terms ("Note") as
    # given; matching both keeps them findable. Current documents only hold full IRIs.
    short = [iri.removeprefix(AS_NAMESPACE) for iri in iris if iri.startswith(AS_NAMESPACE)]
    return [*iris, *short]
