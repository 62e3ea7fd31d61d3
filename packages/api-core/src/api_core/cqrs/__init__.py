"""CQRS: command and query buses, middleware, domain events, cached queries."""

from api_core.cqrs.buses import CommandBus, QueryBus, WithEvents
from api_core.cqrs.middleware import (
    Middleware,
    Next,
    current_unit_of_work,
    logging_middleware,
    tracing_middleware,
    transaction_middleware,
    validation_middleware,
)

__all__ = [
    "CommandBus",
    "Middleware",
    "Next",
    "QueryBus",
    "WithEvents",
    "current_unit_of_work",
    "logging_middleware",
    "tracing_middleware",
    "transaction_middleware",
    "validation_middleware",
]
