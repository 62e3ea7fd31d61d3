"""One answer to "can this value be stored and read back?", checked before anything is written.

A value that a database accepts but cannot hand back (a lone UTF-16 surrogate, which no
UTF-8 encoder writes), that PostgreSQL refuses (a NUL character in text or JSON), or that is
nested so deeply that serializing it overflows a recursion limit, must be refused with a 4xx
*before* the write, naming where it sits, never discovered as a 500 on every later read.

``check_storable`` walks any JSON-shaped value (``dict`` with ``str`` keys, ``list``/``tuple``,
``str``, numbers, ``bool``, ``None``) and raises ``UnstorableValueError`` with the path of the
first offending value, e.g. ``body.metadata.a[3]``. ``StorableStr`` does the string checks in a
pydantic model, so a request field answers 422 with the field's location; ``storable_json``
builds the same kind of validator for a JSON field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "StorableStr",
    "UnstorableValueError",
    "check_storable",
    "check_storable_str",
    "storable_json",
]

DEFAULT_MAX_DEPTH = 32

_T = TypeVar("_T")


class UnstorableValueError(ValueError):
    """A value that cannot be stored and read back.

    Attributes:
        path: JSON path of the offending value, starting with the ``where`` given, e.g.
            ``body.metadata.a[3]`` (an offending mapping key is named by its own path).
        reason: What is wrong with it, e.g. ``contains a NUL character (\\x00) at index 4``.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _string_problem(text: str, max_length: int | None) -> str | None:
    """Return why ``text`` cannot be stored, or None when it can."""
    if "\x00" in text:
        return f"contains a NUL character (\\x00) at index {text.index(chr(0))}"
    if not text.isascii():  # only non-ASCII text can hold a surrogate
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(text[exc.start])
            return (
                f"contains a lone surrogate (\\u{code:04x}) at index {exc.start}, not valid Unicode"
            )
    if max_length is not None and len(text) > max_length:
        return f"is {len(text)} characters long; the limit is {max_length}"
    return None


_Ref = tuple[Any, Any] | None
"""Where a value sits: None for the top, else (the parent's ref, its key or index)."""


_KEY = object()
"""Marks a ref whose string is a mapping key (reported at the mapping's own path)."""


def _check_strings(strings: list[tuple[str, _Ref]], where: str, max_length: int | None) -> None:
    texts = [text for text, _ in strings]
    joined = "\x01".join(texts)
    suspicious = "\x00" in joined or not joined.isascii()
    if suspicious and "\x00" not in joined:
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            suspicious = False
    too_long = max_length is not None and max(map(len, texts), default=0) > max_length
    if not suspicious and not too_long:
        return
    for text, ref in strings:  # name one offender (the first one collected)
        problem = _string_problem(text, max_length)
        if problem is None:
            continue
        if ref is not None and ref[1] is _KEY:
            raise UnstorableValueError(_render(where, ref[0]), f"key {problem}")
        raise UnstorableValueError(_render(where, ref), problem)


def _render(where: str, ref: _Ref) -> str:
    keys: list[str | int] = []
    while ref is not None:
        ref, key = ref
        keys.append(key)
    path = where
    for key in reversed(keys):
        path = f"{path}[{key}]" if isinstance(key, int) else _key_path(path, key)
    return path


def _key_path(path: str, key: str) -> str:
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=True)}]"


def check_storable(
    value: object,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    where: str = "body",
    max_length: int | None = None,
    max_bytes: int | None = None,
) -> None:
    """Raise when ``value`` cannot be stored as JSON/text and read back.

    Refuses NUL characters and lone surrogates in any string or mapping key, non-finite floats
    (JSON has no NaN or Infinity), non-string mapping keys, and containers nested deeper than
    ``max_depth`` (a top-level scalar is depth 0; each dict or list adds one). Values of other
    types (e.g. ``datetime``) are not inspected.

    Args:
        value: The value about to be written.
        max_depth: Deepest nesting of containers allowed.
        where: Name of the value, the start of every reported path (``"body"``, ``"metadata"``).
        max_length: Longest string (in characters) allowed anywhere in the value, or None.
        max_bytes: Largest compact UTF-8 JSON encoding of the whole value, or None.

    Raises:
        UnstorableValueError: The first offending value, with its path and the reason.
    """
    # Iterative walk: a hostile value nested 100 000 deep must not exhaust the Python stack.
    # A path is kept as a (parent, key) chain and spelled out only for an error; strings are
    # collected and checked together (one search, one encode), and one by one only to name
    # the offender.
    strings: list[tuple[str, _Ref]] = []
    stack: list[tuple[object, _Ref, int]] = [(value, None, 0)]
    while stack:
        item, ref, depth = stack.pop()
        if isinstance(item, str):
            strings.append((item, ref))
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise UnstorableValueError(
                    _render(where, ref), f"is {item!r}, which JSON cannot represent"
                )
        elif isinstance(item, Mapping):
            if depth >= max_depth:
                raise UnstorableValueError(
                    _render(where, ref), f"is nested deeper than {max_depth} levels"
                )
            for key, child in item.items():
                if not isinstance(key, str):
                    raise UnstorableValueError(_render(where, ref), f"has a non-string key {key!r}")
                strings.append((key, (ref, _KEY)))
                if type(child) is str:
                    strings.append((child, (ref, key)))
                elif child is not None and type(child) not in (int, bool):
                    stack.append((child, (ref, key), depth + 1))
        elif isinstance(item, Sequence) and not isinstance(item, (bytes, bytearray)):
            if depth >= max_depth:
                raise UnstorableValueError(
                    _render(where, ref), f"is nested deeper than {max_depth} levels"
                )
            for index, child in enumerate(item):
                if type(child) is str:
                    strings.append((child, (ref, index)))
                elif child is not None and type(child) not in (int, bool):
                    stack.append((child, (ref, index), depth + 1))
    _check_strings(strings, where, max_length)
    if max_bytes is not None:
        encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        size = len(encoded.encode("utf-8"))
        if size > max_bytes:
            raise UnstorableValueError(
                where, f"is {size} bytes as JSON; the limit is {max_bytes} bytes"
            )


def check_storable_str(text: str) -> str:
    """Return ``text`` unchanged when it can be stored, for use as a pydantic validator.

    Args:
        text: The string to check.

    Returns:
        ``text`` itself.

    Raises:
        ValueError: It contains a NUL character or a lone surrogate (pydantic turns this into a
            422 entry located at the field).
    """
    problem = _string_problem(text, None)
    if problem is not None:
        raise ValueError(f"Value {problem}")
    return text


StorableStr = Annotated[str, AfterValidator(check_storable_str)]
"""A ``str`` field that refuses NUL characters and lone surrogates (422 naming the field)."""


def storable_json(
    *, max_depth: int = DEFAULT_MAX_DEPTH, max_bytes: int | None = None
) -> AfterValidator:
    """Build a pydantic validator that runs ``check_storable`` on a JSON field.

    Use as ``metadata: Annotated[dict[str, Any], storable_json(max_depth=16)]``; the 422 entry
    is located at the field and its message names the path inside it.

    Args:
        max_depth: Deepest nesting allowed inside the field.
        max_bytes: Largest compact JSON encoding of the field, or None.

    Returns:
        The validator, to put in an ``Annotated`` type.
    """

    def validate(value: _T) -> _T:
        try:
            check_storable(value, max_depth=max_depth, where="value", max_bytes=max_bytes)
        except UnstorableValueError as exc:
            raise ValueError(f"{exc.path} {exc.reason}") from None
        return value

    checker: Callable[[Any], Any] = validate
    return AfterValidator(checker)
