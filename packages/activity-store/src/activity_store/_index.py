"""What a backend indexes of an object, computed once so every backend matches the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from activity_store.ld import types_of

_WORD = re.compile(r"[^\W_]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TEXT_FIELDS = ("name", "summary", "content")


def words(text: str) -> list[str]:
    """Split ``text`` into lower-case words (runs of letters and digits)."""
    return _WORD.findall(text.lower())


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
    """The searchable view of one object."""

    id: str
    types: tuple[str, ...]
    tags: tuple[str, ...]
    words: frozenset[str]
    published: int | None
    updated: int | None

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Indexed:
        """Index ``obj`` (which must already be validated)."""
        found: set[str] = set()
        for field in _TEXT_FIELDS:
            for text in _strings(obj.get(field)):
                found.update(words(text))
        return cls(
            id=obj["id"],
            types=tuple(types_of(obj)),
            tags=tuple(_tag_names(obj.get("tag", []))),
            words=frozenset(found),
            published=epoch_millis(obj.get("published")),
            updated=epoch_millis(obj.get("updated")),
        )

    def sort_value(self, field: str) -> int | None:
        """The value of the date ``field`` used for ordering."""
        value: int | None = getattr(self, field)
        return value
