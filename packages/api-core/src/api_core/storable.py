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
    index = text.find("\x00")
    if index >= 0:
        return f"contains a NUL character (\\x00) at index {index}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        return f"contains a lone surrogate (\\u{code:04x}) at index {exc.start}, not valid Unicode"
    if max_length is not None and len(text) > max_length:
        return f"is {len(text)} characters long; the limit is {max_length}"
    return None


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
    stack: list[tuple[object, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            problem = _string_problem(item, max_length)
            if problem is not None:
                raise UnstorableValueError(path, problem)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise UnstorableValueError(path, f"is {item!r}, which JSON cannot represent")
        elif isinstance(item, Mapping):
            if depth + 1 > max_depth:
                raise UnstorableValueError(path, f"is nested deeper than {max_depth} levels")
            children: list[tuple[object, str, int]] = []
            for key, child in item.items():
                if not isinstance(key, str):
                    raise UnstorableValueError(path, f"has a non-string key {key!r}")
                child_path = _key_path(path, key) if _string_problem(key, None) is None else path
                problem = _string_problem(key, max_length)
                if problem is not None:
                    raise UnstorableValueError(child_path, f"key {problem}")
                children.append((child, child_path, depth + 1))
            stack.extend(reversed(children))
        elif isinstance(item, Sequence) and not isinstance(item, (bytes, bytearray)):
            if depth + 1 > max_depth:
                raise UnstorableValueError(path, f"is nested deeper than {max_depth} levels")
            stack.extend(
                (child, f"{path}[{index}]", depth + 1)
                for index, child in reversed(list(enumerate(item)))
            )
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
