"""Specifications: composable predicates evaluated in memory or compiled to SQLAlchemy.

Rules that both sides follow exactly, so a specification selects the same rows either way:

* NULL (``None``) never satisfies a comparison (``eq``, ``ne``, ``gt``, ``in``, ``like``, ...);
  only ``is_null`` matches it. Every SQL condition is two-valued (a NULL column makes the
  comparison false, not unknown), so ``~spec`` is exactly the complement of ``spec``.
* ``like`` is case-sensitive: ``%`` matches any run of characters, ``_`` exactly one, and
  ``\\`` escapes the next character.
* Strings order by code point (``"B" < "a"``), as Python does.
* ``between`` includes both bounds; ``in`` with no values matches nothing.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from api_core.errors import SpecificationError
from api_core.specifications._fields import (
    check_like_pattern,
    column_of,
    like_regex,
    model_name,
    value_of,
)
from api_core.specifications._sql import CaseSensitiveLike, CodePointOrder

__all__ = [
    "AndSpecification",
    "ComparisonOperator",
    "FieldSpecification",
    "NotSpecification",
    "OrSpecification",
    "Specification",
    "and_",
    "like_regex",
    "not_",
    "or_",
]


class ComparisonOperator(StrEnum):
    """The comparisons a :class:`FieldSpecification` can make."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    IN = "in"
    LIKE = "like"
    BETWEEN = "between"
    IS_NULL = "is_null"


class Specification(ABC):
    """A predicate over entities, usable in memory and as a SQL ``WHERE`` condition.

    Combine with ``&``, ``|`` and ``~`` (or :func:`and_`, :func:`or_`, :func:`not_`).
    """

    @abstractmethod
    def is_satisfied_by(self, obj: Any) -> bool:
        """Return whether ``obj`` (an object with attributes, or a mapping) satisfies this.

        Raises:
            UnknownFieldError: ``obj`` lacks a field this specification names.
        """

    @abstractmethod
    def to_sql_condition(self, model: Any) -> ColumnElement[bool]:
        """Compile to a SQLAlchemy condition over ``model``'s columns.

        Args:
            model: A SQLAlchemy declarative model class (or a ``Table``).

        Raises:
            UnknownFieldError: ``model`` has no column of a name this specification uses.
        """

    def __and__(self, other: Specification) -> Specification:
        return and_(self, other)

    def __or__(self, other: Specification) -> Specification:
        return or_(self, other)

    def __invert__(self) -> Specification:
        return not_(self)


_SQL_OPERATORS: dict[ComparisonOperator, Callable[[Any, Any], Any]] = {
    ComparisonOperator.EQ: operator.eq,
    ComparisonOperator.NE: operator.ne,
    ComparisonOperator.GT: operator.gt,
    ComparisonOperator.GE: operator.ge,
    ComparisonOperator.LT: operator.lt,
    ComparisonOperator.LE: operator.le,
}


class FieldSpecification(Specification):
    """Compares one field with a value.

    Args:
        field: The attribute or column name.
        operator: A :class:`ComparisonOperator` or its name (``"eq"``, ``"between"``, ...).
        value: The operand: a sequence for ``in``, a ``(low, high)`` pair for ``between``, a
            bool for ``is_null`` (``True`` matches NULL, ``False`` matches not NULL), a pattern
            string for ``like``, a non-None value otherwise.

    Raises:
        SpecificationError: the operator is unknown or the value does not fit it.
    """

    __slots__ = ("_compiled", "_regex", "field", "operator", "value")

    def __init__(self, field: str, operator: ComparisonOperator | str, value: Any = True) -> None:
        try:
            op = ComparisonOperator(operator)
        except ValueError:
            names = ", ".join(o.value for o in ComparisonOperator)
            raise SpecificationError(
                f"unknown operator {operator!r} for field {field!r}; use one of {names}"
            ) from None
        self.field = field
        self.operator = op
        self.value = self._normalise(op, value)
        self._regex = like_regex(self.value) if op is ComparisonOperator.LIKE else None
        self._compiled: dict[Any, ColumnElement[bool]] = {}

    def _normalise(self, op: ComparisonOperator, value: Any) -> Any:
        if op is ComparisonOperator.IS_NULL:
            if not isinstance(value, bool):
                raise SpecificationError(f"is_null on {self.field!r} takes True or False")
            return value
        if op is ComparisonOperator.IN:
            if isinstance(value, str | bytes) or not isinstance(value, Iterable):
                raise SpecificationError(f"in on {self.field!r} takes a list of values")
            values = tuple(value)
            if any(v is None for v in values):
                raise SpecificationError(f"in on {self.field!r}: use is_null to match NULL")
            return values
        if op is ComparisonOperator.BETWEEN:
            if isinstance(value, str | bytes) or not isinstance(value, Iterable):
                raise SpecificationError(f"between on {self.field!r} takes (low, high)")
            pair = tuple(value)
            if len(pair) != 2 or None in pair:
                raise SpecificationError(f"between on {self.field!r} takes (low, high)")
            return pair
        if value is None:
            raise SpecificationError(
                f"{op.value} on {self.field!r} got None; use is_null to match NULL"
            )
        if op is ComparisonOperator.LIKE:
            return check_like_pattern(value)
        return value

    def is_satisfied_by(self, obj: Any) -> bool:
        """Evaluate against ``obj``; see the module rules for NULL and LIKE."""
        actual = value_of(obj, self.field)
        op = self.operator
        if op is ComparisonOperator.IS_NULL:
            return (actual is None) is self.value
        if actual is None:
            return False
        try:
            return self._compare(op, actual)
        except TypeError as exc:
            raise SpecificationError(
                f"cannot compare field {self.field!r} ({type(actual).__name__}) "
                f"with {self.value!r} using {op.value}"
            ) from exc

    def _compare(self, op: ComparisonOperator, actual: Any) -> bool:
        value = self.value
        match op:
            case ComparisonOperator.EQ:
                return bool(actual == value)
            case ComparisonOperator.NE:
                return bool(actual != value)
            case ComparisonOperator.GT:
                return bool(actual > value)
            case ComparisonOperator.GE:
                return bool(actual >= value)
            case ComparisonOperator.LT:
                return bool(actual < value)
            case ComparisonOperator.LE:
                return bool(actual <= value)
            case ComparisonOperator.IN:
                return actual in value
            case ComparisonOperator.BETWEEN:
                return bool(value[0] <= actual <= value[1])
            case _:  # LIKE
                assert self._regex is not None
                return isinstance(actual, str) and self._regex.fullmatch(actual) is not None

    def to_sql_condition(self, model: Any) -> ColumnElement[bool]:
        """Compile to a two-valued SQL condition over ``model`` (memoised per model: a
        specification is immutable, and SQLAlchemy expressions are safe to reuse)."""
        compiled = self._compiled.get(model)
        if compiled is None:
            compiled = self._compile(model)
            self._compiled[model] = compiled
        return compiled

    def _compile(self, model: Any) -> ColumnElement[bool]:
        column, nullable = column_of(model, self.field)
        op = self.operator
        if op is ComparisonOperator.IS_NULL:
            return column.is_(None) if self.value else column.is_not(None)
        if op is ComparisonOperator.LIKE:
            if not isinstance(column.type, sa.String):
                raise SpecificationError(
                    f"like needs a string column; {self.field!r} on {model_name(model)} "
                    f"is {column.type}"
                )
            compared: ColumnElement[bool] = CaseSensitiveLike(column, self.value)
        else:
            col: ColumnElement[Any] = column
            if isinstance(column.type, sa.String):
                col = CodePointOrder(column)
            compared = self._sql_compare(op, col)
        # The guard keeps the condition two-valued; a NOT NULL column needs none.
        return sa.and_(column.is_not(None), compared) if nullable else compared

    def _sql_compare(self, op: ComparisonOperator, col: ColumnElement[Any]) -> ColumnElement[bool]:
        value = self.value
        result: ColumnElement[bool]
        if op is ComparisonOperator.IN:
            result = col.in_(value)
        elif op is ComparisonOperator.BETWEEN:
            result = col.between(value[0], value[1])
        else:
            result = _SQL_OPERATORS[op](col, value)
        return result

    def __repr__(self) -> str:
        return f"FieldSpecification({self.field!r}, {self.operator.value!r}, {self.value!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSpecification):
            return NotImplemented
        return (self.field, self.operator, self.value) == (other.field, other.operator, other.value)

    def __hash__(self) -> int:
        return hash((self.field, self.operator, repr(self.value)))


def _memo(
    spec: Specification, model: Any, build: Callable[[], ColumnElement[bool]]
) -> ColumnElement[bool]:
    cache: dict[Any, ColumnElement[bool]] = spec.__dict__.setdefault("_compiled", {})
    compiled = cache.get(model)
    if compiled is None:
        compiled = cache[model] = build()
    return compiled


class AndSpecification(Specification):
    """Satisfied when every part is; with no parts, always satisfied.

    Args:
        parts: The specifications to combine.
    """

    def __init__(self, *parts: Specification) -> None:
        self.parts = parts

    def is_satisfied_by(self, obj: Any) -> bool:
        """True when every part is satisfied by ``obj``."""
        return all(p.is_satisfied_by(obj) for p in self.parts)

    def to_sql_condition(self, model: Any) -> ColumnElement[bool]:
        """``AND`` of the parts (``TRUE`` when empty)."""
        if not self.parts:
            return sa.true()
        return _memo(self, model, lambda: sa.and_(*(p.to_sql_condition(model) for p in self.parts)))

    def __repr__(self) -> str:
        return f"and_({', '.join(map(repr, self.parts))})"


class OrSpecification(Specification):
    """Satisfied when any part is; with no parts, never satisfied.

    Args:
        parts: The specifications to combine.
    """

    def __init__(self, *parts: Specification) -> None:
        self.parts = parts

    def is_satisfied_by(self, obj: Any) -> bool:
        """True when at least one part is satisfied by ``obj``."""
        return any(p.is_satisfied_by(obj) for p in self.parts)

    def to_sql_condition(self, model: Any) -> ColumnElement[bool]:
        """``OR`` of the parts (``FALSE`` when empty)."""
        if not self.parts:
            return sa.false()
        return _memo(self, model, lambda: sa.or_(*(p.to_sql_condition(model) for p in self.parts)))

    def __repr__(self) -> str:
        return f"or_({', '.join(map(repr, self.parts))})"


class NotSpecification(Specification):
    """Satisfied exactly when the inner specification is not.

    Args:
        inner: The specification to negate.
    """

    def __init__(self, inner: Specification) -> None:
        self.inner = inner

    def is_satisfied_by(self, obj: Any) -> bool:
        """The complement of the inner specification."""
        return not self.inner.is_satisfied_by(obj)

    def to_sql_condition(self, model: Any) -> ColumnElement[bool]:
        """``NOT`` of the inner condition (exact, since conditions are two-valued)."""
        return _memo(self, model, lambda: sa.not_(self.inner.to_sql_condition(model)))

    def __repr__(self) -> str:
        return f"not_({self.inner!r})"


def and_(*specs: Specification) -> Specification:
    """Combine ``specs`` so all must hold; nested ANDs are flattened."""
    flat: list[Specification] = []
    for spec in specs:
        flat.extend(spec.parts if isinstance(spec, AndSpecification) else (spec,))
    return flat[0] if len(flat) == 1 else AndSpecification(*flat)


def or_(*specs: Specification) -> Specification:
    """Combine ``specs`` so at least one must hold; nested ORs are flattened."""
    flat: list[Specification] = []
    for spec in specs:
        flat.extend(spec.parts if isinstance(spec, OrSpecification) else (spec,))
    return flat[0] if len(flat) == 1 else OrSpecification(*flat)


def not_(spec: Specification) -> Specification:
    """Negate ``spec``; a double negation returns the original."""
    return spec.inner if isinstance(spec, NotSpecification) else NotSpecification(spec)
