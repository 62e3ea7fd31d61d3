"""A fluent builder for specifications."""

from __future__ import annotations

from typing import Any, Self

from api_core.errors import SpecificationError
from api_core.specifications.core import (
    ComparisonOperator,
    FieldSpecification,
    Specification,
    and_,
    or_,
)

__all__ = ["SpecificationBuilder"]


class SpecificationBuilder:
    """Builds a specification left to right.

    ``where(a).and_where(b).or_where(c).build()`` is ``(a & b) | c``.

    Example:
        >>> spec = (
        ...     SpecificationBuilder()
        ...     .where("status", "eq", "Running")
        ...     .and_where("priority", "ge", 3)
        ...     .build()
        ... )
    """

    def __init__(self) -> None:
        self._spec: Specification | None = None

    def _part(self, field: str | Specification, operator: Any, value: Any) -> Specification:
        if isinstance(field, Specification):
            return field
        if operator is None:
            raise SpecificationError(f"where({field!r}, ...) needs an operator")
        return FieldSpecification(field, ComparisonOperator(operator), value)

    def where(
        self,
        field: str | Specification,
        operator: ComparisonOperator | str | None = None,
        value: Any = True,
    ) -> Self:
        """Start (or restart) the specification with one condition or a whole specification."""
        self._spec = self._part(field, operator, value)
        return self

    def and_where(
        self,
        field: str | Specification,
        operator: ComparisonOperator | str | None = None,
        value: Any = True,
    ) -> Self:
        """AND a condition onto what has been built so far."""
        part = self._part(field, operator, value)
        self._spec = part if self._spec is None else and_(self._spec, part)
        return self

    def or_where(
        self,
        field: str | Specification,
        operator: ComparisonOperator | str | None = None,
        value: Any = True,
    ) -> Self:
        """OR a condition onto what has been built so far."""
        part = self._part(field, operator, value)
        self._spec = part if self._spec is None else or_(self._spec, part)
        return self

    def build(self) -> Specification:
        """Return the specification; with no conditions, one that everything satisfies."""
        return self._spec if self._spec is not None else and_()
