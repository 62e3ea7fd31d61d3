"""Safe filtering from query parameters: ``?status=eq:Running&created_at=ge:2026-01-01``.

A service declares which fields may be filtered and their types; values are validated with
pydantic and turned into a :class:`~api_core.specifications.Specification`. Nothing from the
request reaches SQL except as bound parameters.

Syntax per parameter: ``op:value`` where ``op`` is a :class:`ComparisonOperator` name; a value
without a known operator prefix means ``eq``. ``in:a,b,c`` lists values, ``between:low,high``
takes two, ``is_null:true|false`` takes a boolean, ``like:pattern`` takes a LIKE pattern. A
repeated parameter adds another condition; all conditions are ANDed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request

from api_core.errors import InvalidFilterError, SpecificationError
from api_core.specifications.core import (
    ComparisonOperator,
    FieldSpecification,
    Specification,
    and_,
)

__all__ = ["filter_dependency", "specification_from_query"]

_OPS = {op.value: op for op in ComparisonOperator}
_BOOL: TypeAdapter[bool] = TypeAdapter(bool)


def _items(params: Any) -> list[tuple[str, str]]:
    if hasattr(params, "multi_items"):
        return list(params.multi_items())
    if isinstance(params, Mapping):
        out: list[tuple[str, str]] = []
        for key, value in params.items():
            if isinstance(value, list | tuple):
                out.extend((key, str(v)) for v in value)
            else:
                out.append((key, str(value)))
        return out
    return [(str(k), str(v)) for k, v in params]


def _parse(name: str, raw: str, adapter: TypeAdapter[Any]) -> FieldSpecification:
    head, sep, rest = raw.partition(":")
    op = _OPS.get(head) if sep else None
    text = rest if op is not None else raw
    op = op or ComparisonOperator.EQ

    def convert(piece: str) -> Any:
        try:
            return adapter.validate_strings(piece)
        except ValidationError as exc:
            msg = exc.errors(include_url=False)[0]["msg"]
            raise InvalidFilterError(name, f"{piece!r} is not valid: {msg}") from exc

    try:
        if op is ComparisonOperator.IS_NULL:
            try:
                flag = _BOOL.validate_strings(text or "true")
            except ValidationError as exc:
                raise InvalidFilterError(name, "is_null takes true or false") from exc
            return FieldSpecification(name, op, flag)
        if op is ComparisonOperator.LIKE:
            return FieldSpecification(name, op, text)
        if op is ComparisonOperator.IN:
            return FieldSpecification(name, op, [convert(p) for p in text.split(",") if p])
        if op is ComparisonOperator.BETWEEN:
            pieces = text.split(",")
            if len(pieces) != 2:
                raise InvalidFilterError(name, "between takes two values: between:low,high")
            return FieldSpecification(name, op, (convert(pieces[0]), convert(pieces[1])))
        return FieldSpecification(name, op, convert(text))
    except SpecificationError as exc:
        raise InvalidFilterError(name, str(exc)) from exc


def specification_from_query(
    params: Any,
    fields: Mapping[str, Any],
    *,
    ignore: frozenset[str] | set[str] = frozenset(),
) -> Specification | None:
    """Turn query parameters into a specification over the allowed ``fields``.

    Args:
        params: Starlette ``QueryParams``, a mapping (values may be lists) or ``(name, value)``
            pairs.
        fields: Field name to Python type (``{"status": str, "created_at": datetime}``);
            values are validated against that type.
        ignore: Parameter names that are not filters (``limit``, ``offset``, ...).

    Returns:
        The AND of all conditions, or ``None`` when no filter parameter was given.

    Raises:
        InvalidFilterError: an unknown field, operator or badly typed value; the message says
            what is accepted.
    """
    adapters = {name: TypeAdapter(tp) for name, tp in fields.items()}
    specs: list[Specification] = []
    for name, raw in _items(params):
        if name in ignore:
            continue
        adapter = adapters.get(name)
        if adapter is None:
            allowed = ", ".join(sorted(fields)) or "none"
            raise InvalidFilterError(name, f"not a filterable field; filterable: {allowed}")
        specs.append(_parse(name, raw, adapter))
    return and_(*specs) if specs else None


def filter_dependency(
    fields: Mapping[str, Any], *, ignore: frozenset[str] | set[str] = frozenset()
) -> Callable[[Request], Specification | None]:
    """Return a FastAPI dependency that reads the request's filters into a specification.

    An invalid filter raises :class:`InvalidFilterError`, which ``create_app`` answers with a
    400 problem response naming the parameter.

    Example:
        >>> Filters = filter_dependency({"status": str, "priority": int}, ignore={"limit"})
        >>> # @app.get("/tasks")
        >>> # async def list_tasks(spec: Specification | None = Depends(Filters)): ...
    """
    adapters_fields = dict(fields)
    skip = frozenset(ignore)

    def dependency(request: Request) -> Specification | None:
        return specification_from_query(request.query_params, adapters_fields, ignore=skip)

    return dependency
