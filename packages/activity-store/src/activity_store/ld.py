"""Offline JSON-LD helpers for ActivityStreams 2.0 objects.

The ActivityStreams context ships with the package (``data/activitystreams.jsonld``) and is
read from there; nothing here ever fetches a context over the network.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from activity_store.errors import InvalidLDObject

__all__ = [
    "AS_CONTEXT",
    "PARTIAL_FIELDS",
    "activitystreams_context",
    "check_contexts",
    "check_storable",
    "prepare",
    "index_view",
    "is_plain_as2",
    "ensure_context",
    "normalize",
    "partial_member",
    "to_tombstone",
    "type_iri",
    "type_iris",
    "types_of",
    "utc_now_iso",
    "validate",
]

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
"""The ActivityStreams 2.0 context IRI added to objects stored without ``@context``."""

PARTIAL_FIELDS = (
    "id", "type", "name", "summary", "published", "updated", "formerType", "deleted",
)  # fmt: skip
"""The properties a collection keeps of each member (never content or attachments)."""

AS_NAMESPACE = "https://www.w3.org/ns/activitystreams#"
"""The IRI prefix of every ActivityStreams 2.0 term."""

# AS2 properties whose vocabulary definition says "Functional: true": at most one value, so
# normalisation leaves them alone. The natural-language literals (name, summary, content) stay
# scalar too: their other values live in the language maps (nameMap, ...), not in a list.
_SINGLE_VALUED = frozenset(
    {
        "id", "@id", "@context", "accuracy", "altitude", "content", "current", "deleted",
        "describes", "duration", "endTime", "first", "height", "href", "hreflang", "last",
        "latitude", "longitude", "mediaType", "name", "next", "partOf", "prev",
        "preferredUsername", "published", "radius", "relationship", "replies", "startIndex",
        "startTime", "subject", "summary", "totalItems", "units", "updated", "width",
        "inbox", "outbox", "following", "followers", "liked", "likes", "shares", "source",
        "endpoints", "orderedItems",
    }
)  # fmt: skip


@cache
def activitystreams_context() -> dict[str, Any]:
    """Return the bundled ActivityStreams 2.0 JSON-LD context document (read once)."""
    text = files("activity_store").joinpath("data/activitystreams.jsonld").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@cache
def _multi_valued_terms() -> frozenset[str]:
    terms = activitystreams_context()["@context"]
    return frozenset(
        name
        for name, definition in terms.items()
        if isinstance(definition, dict)
        and definition.get("@type") in ("@id", "@vocab")
        and name not in _SINGLE_VALUED
    )


@cache
def _term_iris() -> dict[str, str]:
    terms = activitystreams_context()["@context"]
    iris: dict[str, str] = {}
    for name, definition in terms.items():
        target = definition if isinstance(definition, str) else None
        if isinstance(definition, dict):
            target = definition.get("@id")
        if isinstance(target, str) and target.startswith("as:"):
            iris[name] = AS_NAMESPACE + target[3:]
    return iris


def type_iri(term: str) -> str:
    """Expand one type against the ActivityStreams context.

    ``Note``, ``as:Note`` and ``https://www.w3.org/ns/activitystreams#Note`` all give the
    last; any other string (an IRI or a term of another vocabulary) is returned unchanged.
    """
    found = _term_iris().get(term)
    if found is not None:
        return found
    if term.startswith("as:"):
        return AS_NAMESPACE + term[3:]
    return term


def type_iris(value: Any) -> tuple[str, ...]:
    """Expand a ``type`` value (a string or a list of strings) to a tuple of IRIs."""
    if isinstance(value, str):
        return (type_iri(value),)
    if isinstance(value, list | tuple):
        return tuple(type_iri(item) for item in value if isinstance(item, str))
    return ()


_AS_ONLY = (AS_CONTEXT, [AS_CONTEXT], None)


def _plain_keys(value: Any, depth: int = 0) -> bool:
    """Whether no key below ``value`` is prefixed, a full IRI, a keyword or a nested context."""
    if depth > 64:
        return False
    if isinstance(value, dict):
        for key, item in value.items():
            if ":" in key or key[:1] == "@":
                return False
            if isinstance(item, dict | list) and not _plain_keys(item, depth + 1):
                return False
        return True
    if isinstance(value, list):
        return all(_plain_keys(item, depth + 1) for item in value if isinstance(item, dict | list))
    return True


def is_plain_as2(obj: dict[str, Any]) -> bool:
    """Whether ``obj`` uses only the ActivityStreams context and its plain terms.

    Such a document already is its own compaction against that context (up to how single
    values and lists are written, which indexing treats alike), so it skips pyld.
    """
    if obj.get("@context") not in _AS_ONLY:
        return False
    return all(
        key == "@context"
        or (
            ":" not in key
            and key[:1] != "@"
            and (not isinstance(item, dict | list) or _plain_keys(item))
        )
        for key, item in obj.items()
    )


def index_view(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the indexer reads it: compacted against the ActivityStreams context.

    Documents that only use that context's plain terms take the fast path (returned as they
    are); any other (prefixed, aliased or expanded properties, other or extra contexts) is
    compacted with pyld, so ``as:content`` or the full IRI of ``content`` index as
    ``content``.

    Raises:
        ContextNotAllowed: the document names a context that is not bundled or allowed.
    """
    if is_plain_as2(obj):
        return obj
    # pyld is imported only once a document needs it, keeping `import activity_store` light.
    from activity_store.jsonld import compact

    return compact(obj)


def prepare(obj: Any) -> dict[str, Any]:
    """Return the document to store for ``obj``: checked, with an ``@context``.

    A document with a plain string ``id`` and a ``type`` is kept as given (with the
    ActivityStreams ``@context`` added on a copy when missing). One that names them otherwise
    (expanded ``@id`` / ``@type``, an alias, full IRIs) is compacted against the
    ActivityStreams context first, and that compacted form is stored.

    Raises:
        InvalidLDObject: no usable id or type, not valid JSON-LD, or text that cannot be
            stored (a NUL character or a lone surrogate).
        ContextNotAllowed: it names a remote context that is not bundled or allowed.
    """
    if isinstance(obj, dict) and not ("id" in obj and "type" in obj):
        spelled_otherwise = any(key[:1] == "@" or ":" in key for key in obj if key != "@context")
        if spelled_otherwise or obj.get("@context") not in _AS_ONLY:
            from activity_store.jsonld import compact

            obj = compact(obj)
    object_id = validate(obj)
    check_storable(obj, repr(object_id))
    prepared = ensure_context(obj)
    check_contexts(prepared)
    return prepared


def check_contexts(obj: dict[str, Any]) -> None:
    """Resolve every remote context ``obj`` names, before anything is written.

    Raises:
        ContextNotAllowed: one is neither bundled nor allowed (nothing is fetched).
    """
    if obj.get("@context") in _AS_ONLY:
        return
    from activity_store.jsonld import context_urls, get_loader

    loader = get_loader()
    for url in context_urls(obj["@context"]):
        loader.document(url)


def types_of(obj: dict[str, Any]) -> list[str]:
    """Return the object's ``type`` as a list of strings (empty when absent)."""
    value = obj.get("type")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def validate(obj: Any) -> str:
    """Check that ``obj`` is a storable LD-object and return its id.

    Raises:
        InvalidLDObject: ``obj`` is not a dict, has no non-empty string ``id``, or has no
            ``type`` given as a string or a non-empty list of strings.
    """
    if not isinstance(obj, dict):
        raise InvalidLDObject(f"an LD-object must be a dict, got {type(obj).__name__}")
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not object_id.strip():
        raise InvalidLDObject(
            f"object has no usable 'id' (got {object_id!r}); give it a non-empty string id"
        )
    kind = obj.get("type")
    valid_list = isinstance(kind, list) and kind and all(isinstance(t, str) for t in kind)
    if not (isinstance(kind, str) and kind) and not valid_list:
        raise InvalidLDObject(
            f"object {object_id!r} has no usable 'type' (got {kind!r}); "
            "give it a type such as 'Note' or a list of type names"
        )
    return object_id


def ensure_context(obj: dict[str, Any]) -> dict[str, Any]:
    """Return a shallow copy of ``obj`` with the ActivityStreams ``@context`` when missing.

    The caller's dict is never modified.
    """
    copied = dict(obj)
    copied.setdefault("@context", AS_CONTEXT)
    return copied


def normalize(obj: dict[str, Any]) -> dict[str, Any]:
    """Return a normalised deep copy of ``obj``.

    ``type`` becomes a list, and every multi-valued ActivityStreams property (``to``, ``cc``,
    ``tag``, ``attachment``, ``actor``, ``object``, ...; the non-functional object properties
    of the bundled context) becomes a list. Nested objects are normalised the same way;
    unknown extension properties are kept as they are.

    Args:
        obj: An LD-object.
    """
    normalized: dict[str, Any] = _normalize(copy.deepcopy(obj))
    return normalized


def _normalize(value: Any) -> Any:
    if isinstance(value, list):
        return [_normalize(item) for item in value]
    if not isinstance(value, dict):
        return value
    multi = _multi_valued_terms()
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "@context":
            out[key] = item
        elif key in ("type", "formerType") or key in multi:
            listed = item if isinstance(item, list) else [item]
            out[key] = [_normalize(entry) for entry in listed]
        else:
            out[key] = _normalize(item)
    return out


def utc_now_iso() -> str:
    """Return the current UTC time as ISO-8601 with milliseconds and a trailing ``Z``."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def to_tombstone(obj: dict[str, Any]) -> dict[str, Any]:
    """Return the Tombstone that replaces ``obj``.

    The result has ``id``, ``type: "Tombstone"``, ``formerType`` (the original type; a list
    stays a list), ``deleted`` (now, UTC ISO-8601 ending in ``Z``) and ``@context``.

    Raises:
        InvalidLDObject: ``obj`` has no usable id or type.
    """
    object_id = validate(obj)
    former = obj["type"]
    return {
        "@context": obj.get("@context", AS_CONTEXT),
        "id": object_id,
        "type": "Tombstone",
        "formerType": list(former) if isinstance(former, list) else former,
        "deleted": utc_now_iso(),
    }


def partial_member(obj: dict[str, Any]) -> dict[str, Any]:
    """Return the partial copy a collection keeps: id, type, and name/summary/published/updated
    (and a Tombstone's formerType/deleted) when present.

    The fields are read from the document compacted against the ActivityStreams context, so a
    prefixed ``as:name`` is kept as ``name``.
    """
    view = index_view(obj)
    member = {key: copy.deepcopy(view[key]) for key in PARTIAL_FIELDS if key in view}
    member["id"] = obj["id"]
    return member


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def check_storable(value: Any, where: str = "object") -> None:
    """Refuse text no database can keep: NUL characters and lone surrogates, in keys or values.

    Raises:
        InvalidLDObject: naming where the character is.
    """
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise InvalidLDObject(
                f"{where} holds a NUL character or a lone surrogate, which cannot be stored; "
                "remove it or encode it"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key, f"a key in {where}")
            check_storable(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{where}[{index}]")
