"""Field access shared by in-memory evaluation and SQL compilation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from api_core.errors import SpecificationError, UnknownFieldError

__all__ = ["check_like_pattern", "column_of", "like_regex", "model_name", "value_of"]


def model_name(model: Any) -> str:
    """A model class's or table's name, for error messages."""
    return str(getattr(model, "__name__", None) or getattr(model, "name", None) or model)


def column_of(model: Any, field: str) -> tuple[ColumnElement[Any], bool]:
    """The column expression for ``field`` and whether it can hold NULL."""
    table = getattr(model, "__table__", model)
    columns = getattr(table, "c", None)
    if columns is None or field not in columns:
        raise UnknownFieldError(field, model_name(model))
    nullable = bool(getattr(columns[field], "nullable", True))
    if table is model:
        column: ColumnElement[Any] = columns[field]
        return column, nullable
    attr = getattr(model, field, None)
    if attr is None:
        raise UnknownFieldError(field, model_name(model))
    return attr, nullable


_MISSING = object()


def value_of(obj: Any, field: str) -> Any:
    """Read ``field`` from a mapping or an object, raising :class:`UnknownFieldError` if absent."""
    is_map = isinstance(obj, Mapping)
    value = obj.get(field, _MISSING) if is_map else getattr(obj, field, _MISSING)
    if value is _MISSING:
        raise UnknownFieldError(field, type(obj).__name__)
    return value


def check_like_pattern(pattern: Any) -> str:
    """Return ``pattern`` if it is a valid LIKE pattern (a string not ending in a lone ``\\``)."""
    if not isinstance(pattern, str):
        raise SpecificationError(f"like needs a string pattern, got {type(pattern).__name__}")
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    if trailing % 2:
        raise SpecificationError(
            f"like pattern {pattern!r} ends with a lone escape '\\'; escape it as '\\\\'"
        )
    return pattern


def like_regex(pattern: str) -> re.Pattern[str]:
    """Compile a LIKE pattern into the equivalent (case-sensitive) regular expression."""
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)
