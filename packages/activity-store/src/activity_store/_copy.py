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
    if isinstance(value, dict):  # dict subclasses (FrozenDict too): copy as plain dicts
        return {key: json_copy(item) for key, item in dict.items(value)}
    if isinstance(value, list):
        return [json_copy(item) for item in list.__iter__(value)]
    return value


def _read_only(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError(
        "objects from the memory cache are read-only; copy one first (dict(obj) for the top "
        "level, activity_store.thaw(obj) or copy.deepcopy(obj) for every level)"
    )


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses changes; equal to, and serialised like, a plain dict."""

    __slots__ = ()
    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        thawed: dict[str, Any] = json_copy(self)
        return thawed

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (json_copy(self),))


class FrozenList(list[Any]):
    """A ``list`` that refuses changes; equal to, and serialised like, a plain list."""

    __slots__ = ()
    __setitem__ = __delitem__ = append = extend = insert = remove = pop = clear = _read_only
    sort = reverse = __iadd__ = __imul__ = _read_only

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        thawed: list[Any] = json_copy(self)
        return thawed

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (json_copy(self),))


def freeze(value: Any) -> Any:
    """Return a read-only deep copy of a JSON-shaped value (dicts and lists frozen)."""
    if isinstance(value, dict):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList([freeze(item) for item in value])
    return value


def thaw(value: Any) -> Any:
    """Return an ordinary, changeable deep copy of an object (for one from the memory cache).

    Args:
        value: A JSON-shaped value, read-only or not.
    """
    return json_copy(value)
