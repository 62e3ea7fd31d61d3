"""Fast copies of JSON-shaped values, so callers never share state with a store or cache."""

from __future__ import annotations

from typing import Any

_CONTAINERS = frozenset((dict, list))


def json_copy(value: Any) -> Any:
    """Deep-copy dicts and lists; other values (str, int, ...) are immutable and shared.

    Only containers are recursed into, which keeps a cache hit cheap: most values of an
    LD-object are strings.
    """
    kind = type(value)
    if kind is dict:
        copied = value.copy()
        for key, item in value.items():
            if type(item) in _CONTAINERS:
                copied[key] = json_copy(item)
        return copied
    if kind is list:
        return [json_copy(item) if type(item) in _CONTAINERS else item for item in value]
    if isinstance(value, dict):  # dict subclasses: copy as plain dicts
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value
