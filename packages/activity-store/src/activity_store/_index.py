"""What a backend indexes of an object, computed once so every backend matches the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from activity_store.errors import InvalidQuery
from activity_store.ld import index_view, type_iris

_WORD = re.compile(r"[^\W_]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TEXT_FIELDS = ("name", "summary", "content")
_MAP_FIELDS = ("nameMap", "summaryMap", "contentMap")
_SKIP = frozenset((*_TEXT_FIELDS, *_MAP_FIELDS, "@context"))
_MAX_DEPTH = 32


def words(text: str) -> list[str]:
    """Split ``text`` into lower-case words (runs of letters and digits)."""
    return _WORD.findall(text.lower())


def query_words(text: str | None) -> list[str]:
    """The words a text query asks for; empty when there is no text query.

    Raises:
        InvalidQuery: ``text`` is given but holds no word (only blanks or punctuation), which
            would otherwise match everything.
    """
    if text is None:
        return []
    found = words(text)
    if not found:
        raise InvalidQuery(
            f"text {text!r} holds no word (letters or digits); leave 'text' out to match "
            "every object"
        )
    return found


def epoch_millis(value: Any) -> int | None:
    """Parse an ISO-8601 date-time to epoch milliseconds; ``None`` when it is not one.

    A date-time without an offset is taken as UTC.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // timedelta(milliseconds=1)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _collect_words(value: Any, found: set[str], depth: int) -> None:
    """Add the words of ``value``'s natural-language text, and of the objects nested in it."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _collect_words(item, found, depth + 1)
        return
    if not isinstance(value, dict):
        return
    for field in _TEXT_FIELDS:
        for text in _strings(value.get(field)):
            found.update(words(text))
    for field in _MAP_FIELDS:
        language_map = value.get(field)
        if isinstance(language_map, dict):
            for text in language_map.values():
                for item in _strings(text):
                    found.update(words(item))
    for key, item in value.items():
        if key not in _SKIP and isinstance(item, dict | list):
            _collect_words(item, found, depth + 1)


def _tag_names(value: Any) -> list[str]:
    entries = value if isinstance(value, list) else [value]
    names: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            names.append(entry.lower())
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            names.append(entry["name"].lower())
    return names


@dataclass(frozen=True, slots=True)
class Indexed:
    """The searchable view of one object.

    ``types`` and ``former_types`` are expanded IRIs; ``words`` come from ``name``,
    ``summary`` and ``content``, their language maps (``nameMap``, ...), and the same
    properties of every object nested inside (an activity's ``object``, attachments, ...).
    """

    id: str
    types: tuple[str, ...]
    former_types: tuple[str, ...]
    tags: tuple[str, ...]
    words: frozenset[str]
    published: int | None
    updated: int | None

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Indexed:
        """Index ``obj`` (which must already be validated).

        Documents using other contexts or prefixed / aliased / expanded property names are
        first compacted against the ActivityStreams context, so they index the same way.
        """
        return cls.from_view(obj["id"], index_view(obj))

    @classmethod
    def from_view(cls, object_id: str, view: dict[str, Any]) -> Indexed:
        """Index an object already compacted against the ActivityStreams context."""
        found: set[str] = set()
        _collect_words(view, found, 0)
        return cls(
            id=object_id,
            types=type_iris(view.get("type")),
            former_types=type_iris(view.get("formerType")),
            tags=tuple(_tag_names(view.get("tag", []))),
            words=frozenset(found),
            published=epoch_millis(view.get("published")),
            updated=epoch_millis(view.get("updated")),
        )

    def all_types(self, include_deleted: bool) -> tuple[str, ...]:
        """The types a query matches: with ``include_deleted``, a Tombstone's former ones too."""
        return self.types + self.former_types if include_deleted else self.types

    def sort_value(self, field: str) -> int | None:
        """The value of the date ``field`` used for ordering."""
        value: int | None = getattr(self, field)
        return value
