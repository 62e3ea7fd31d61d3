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


class _NotJSONError(Exception):
    """Raised by :func:`_bound` at the first non-JSON value; the message comes after."""


def check_json(value: Any) -> int:
    """Raise ``ValueError`` naming the first non-JSON value under ``value``.

    JSON values are ``dict`` (with ``str`` keys), ``list``, ``str`` (valid UTF-8), ``int``,
    finite ``float``, ``bool`` and ``None`` — exactly the types that come back unchanged
    from a JSON round trip. Subclasses (an ``IntEnum``, a ``defaultdict``) are refused too,
    since they come back as their base type.

    Returns:
        An upper bound of the value's size as JSON, in bytes.
    """
    try:
        return _bound(value)
    except _NotJSONError:
        pass
    _explain(value)  # walks again with the path, and raises
    raise AssertionError("unreachable: _bound and _explain disagree")  # pragma: no cover


def _bound(value: Any) -> int:
    # The common values are handled inline, without a call each: every event built pays
    # for this walk.
    kind = type(value)
    if kind is dict:
        size = 2
        for key, item in value.items():
            if type(key) is not str:
                raise _NotJSONError
            size += len(key) * 6 + 4 if key.isascii() else _bound(key) + 2
            item_kind = type(item)
            if item_kind is str:
                size += len(item) * 6 + 2 if item.isascii() else _bound(item)
            elif item_kind is int:
                size += item.bit_length() // 3 + 3  # digits <= bits / 3 + 1, a sign, a comma
            elif item_kind is float:
                if item - item != 0.0:  # NaN or an infinity
                    raise _NotJSONError
                size += 26
            elif item_kind is bool or item is None:
                size += 6
            else:
                size += _bound(item)
        return size
    if kind is list:
        size = 2
        for item in value:
            size += _bound(item) + 1
        return size
    if kind is str:
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise _NotJSONError from None
        return len(value) * 6 + 2  # \u escapes are the longest form of a code point
    if kind is int:
        bits: int = value.bit_length()
        return bits // 3 + 2
    if kind is float:
        if value - value != 0.0:
            raise _NotJSONError
        return 26
    if kind is bool or value is None:
        return 5
    raise _NotJSONError


def _explain(value: Any, path: str = "") -> int:
    """:func:`check_json` walking with the path, to name the first non-JSON value.

    The same rules as :func:`_bound`, which finds that there is one without paying for the
    path of every value on the way.
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
                size += _explain(key, path) + 2
            # Plain ASCII text and ints, the commonest values, without a call or a path.
            item_kind = type(item)
            if item_kind is str and item.isascii():
                size += len(item) * 6 + 2
            elif item_kind is int:
                size += len(str(item)) + 1
            else:
                size += _explain(item, f"{path}[{key!r}]")
        return size
    if kind is list:
        size = 2
        for i, item in enumerate(value):
            size += _explain(item, f"{path}[{i}]") + 1
        return size
    raise _refuse(path, value)
