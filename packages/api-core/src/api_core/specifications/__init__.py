"""Specifications: composable filters that run in memory and as SQL with identical results."""

from api_core.specifications.builder import SpecificationBuilder
from api_core.specifications.core import (
    AndSpecification,
    ComparisonOperator,
    FieldSpecification,
    NotSpecification,
    OrSpecification,
    Specification,
    and_,
    not_,
    or_,
)
from api_core.specifications.query import filter_dependency, specification_from_query

__all__ = [
    "AndSpecification",
    "ComparisonOperator",
    "FieldSpecification",
    "NotSpecification",
    "OrSpecification",
    "Specification",
    "SpecificationBuilder",
    "and_",
    "filter_dependency",
    "not_",
    "or_",
    "specification_from_query",
]
