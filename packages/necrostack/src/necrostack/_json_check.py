"""Checking that a payload holds JSON values only, so its JSON round trip is exact."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["check_json"]

_WHAT_INSTEAD = {
    "tuple": "use a list",
    "set": "use a sorted list",
    "frozenset": "use a sorted list",
    "datetime": "use an ISO 8601 string",
    "date": "use an ISO 8601 string",
    "time": "use an ISO 8601 string",
    "Decimal": "use a string (or a float if rounding is fine)",
    "bytes": "use base64 text",
    "UUID": "use its string",
}


def _refuse(path: str, value: object) -> ValueError:
    name = type(value).__name__
    hint = _WHAT_INSTEAD.get(name)
    tail = f"; {hint}" if hint else ""
    return ValueError(
        f"payload{path} is a {name}, which is not a JSON value "
        f"(dict with str keys, list, str, int, float, bool, None){tail}"
    )


def check_json(value: Any, path: str = "") -> int:
    """Raise ``ValueError`` naming the first non-JSON value under ``value``.

    JSON values are ``dict`` (with ``str`` keys), ``list``, ``str`` (valid UTF-8), ``int``,
    finite ``float``, ``bool`` and ``None`` — exactly the types that come back unchanged
    from a JSON round trip. Subclasses (an ``IntEnum``, a ``defaultdict``) are refused too,
    since they come back as their base type.

    Returns:
        An upper bound of the value's size as JSON, in bytes.
    """
    kind = type(value)
    if kind is str:
        try:
            if not value.isascii():
                value.encode()
            return len(value) * 6 + 2  # \u escapes are the longest form of a code point
        except UnicodeEncodeError:
            raise ValueError(
                f"payload{path} is a str with a lone surrogate, which is not valid UTF-8"
            ) from None
    if kind is int or kind is bool or value is None:
        return len(str(value)) + 1 if kind is int else 5
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(f"payload{path} is {value!r}, which JSON cannot represent")
        return 26
    if kind is dict:
        size = 2
        for key, item in value.items():
            if type(key) is not str:
                raise ValueError(
                    f"payload{path} has the key {key!r} of type {type(key).__name__}; "
                    "JSON object keys are strings (it would come back as a str)"
                )
            if key.isascii():  # the common case inline; check_json(key) raises otherwise
                size += len(key) * 6 + 4
            else:
                size += check_json(key, path) + 2
            # Plain ASCII text and ints, the commonest values, without a call or a path.
            item_kind = type(item)
            if item_kind is str and item.isascii():
                size += len(item) * 6 + 2
            elif item_kind is int:
                size += len(str(item)) + 1
            else:
                size += check_json(item, f"{path}[{key!r}]")
        return size
    if kind is list:
        size = 2
        for i, item in enumerate(value):
            size += check_json(item, f"{path}[{i}]") + 1
        return size
    raise _refuse(path, value)
