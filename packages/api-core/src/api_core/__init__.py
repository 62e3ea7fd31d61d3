"""api-core: FastAPI infrastructure shared by the platform's services.

``create_app`` and settings; specifications compiled to SQL and query-parameter filters;
protocols, ``Result`` and a SQLAlchemy repository; caching; OpenTelemetry; CQRS buses; health;
the "storable value" check and fixed-window rate limiters.

Names are imported on first use (PEP 562), so ``import api_core`` costs next to nothing and an
app pays only for what it touches: a plain ``create_app`` service never loads SQLAlchemy, the
caches, the CQRS buses or the OpenTelemetry SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api_core.app import create_app
    from api_core.caching import CacheConfig, MemoryCache, cached, create_cache
    from api_core.cqrs import CommandBus, QueryBus, WithEvents
    from api_core.errors import (
        ApiCoreError,
        EntityNotFoundError,
        HandlerNotFoundError,
        HandlerRegistrationError,
        InvalidFilterError,
        ProblemError,
        SpecificationError,
        UnknownFieldError,
    )
    from api_core.health import CheckResult, HealthCheck, HealthRegistry, HealthReport
    from api_core.health_checks import database_check, redis_check
    from api_core.problems import problem_response
    from api_core.protocols import (
        AsyncRepository,
        CacheProvider,
        Command,
        CommandHandler,
        EventHandler,
        Identifiable,
        Mapper,
        Query,
        QueryHandler,
        SoftDeletable,
        Timestamped,
        UnitOfWork,
    )
    from api_core.ratelimit import InProcessRateLimiter, RateLimiter, RedisRateLimiter
    from api_core.repository import SQLAlchemyRepository, SQLAlchemyUnitOfWork
    from api_core.result import Err, Ok, Result, UnwrapError
    from api_core.settings import ApiSettings, CorsSettings, HealthSettings, TelemetrySettings
    from api_core.specifications import (
        ComparisonOperator,
        FieldSpecification,
        Specification,
        SpecificationBuilder,
        and_,
        filter_dependency,
        not_,
        or_,
        specification_from_query,
    )
    from api_core.storable import (
        StorableStr,
        UnstorableValueError,
        check_storable,
        check_storable_str,
        storable_json,
    )
    from api_core.telemetry import (
        Telemetry,
        extract_trace_context,
        inject_trace_context,
        setup_telemetry,
        traced,
        use_trace_context,
    )

__version__ = "0.1.0"

__all__ = [
    "InProcessRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "StorableStr",
    "UnstorableValueError",
    "check_storable",
    "check_storable_str",
    "storable_json",
    "ApiCoreError",
    "ApiSettings",
    "AsyncRepository",
    "CacheConfig",
    "CacheProvider",
    "CheckResult",
    "Command",
    "CommandBus",
    "CommandHandler",
    "ComparisonOperator",
    "CorsSettings",
    "EntityNotFoundError",
    "Err",
    "EventHandler",
    "FieldSpecification",
    "HandlerNotFoundError",
    "HandlerRegistrationError",
    "HealthCheck",
    "HealthRegistry",
    "HealthReport",
    "HealthSettings",
    "Identifiable",
    "InvalidFilterError",
    "Mapper",
    "MemoryCache",
    "Ok",
    "ProblemError",
    "Query",
    "QueryBus",
    "QueryHandler",
    "Result",
    "SQLAlchemyRepository",
    "SQLAlchemyUnitOfWork",
    "SoftDeletable",
    "Specification",
    "SpecificationBuilder",
    "SpecificationError",
    "Telemetry",
    "TelemetrySettings",
    "Timestamped",
    "UnitOfWork",
    "UnknownFieldError",
    "UnwrapError",
    "WithEvents",
    "__version__",
    "and_",
    "cached",
    "create_app",
    "create_cache",
    "database_check",
    "extract_trace_context",
    "filter_dependency",
    "inject_trace_context",
    "not_",
    "or_",
    "problem_response",
    "redis_check",
    "setup_telemetry",
    "specification_from_query",
    "traced",
    "use_trace_context",
]

_EXPORTS = {
    "InProcessRateLimiter": "api_core.ratelimit",
    "RateLimiter": "api_core.ratelimit",
    "RedisRateLimiter": "api_core.ratelimit",
    "StorableStr": "api_core.storable",
    "UnstorableValueError": "api_core.storable",
    "check_storable": "api_core.storable",
    "check_storable_str": "api_core.storable",
    "storable_json": "api_core.storable",
    "ApiCoreError": "api_core.errors",
    "ApiSettings": "api_core.settings",
    "AsyncRepository": "api_core.protocols",
    "CacheConfig": "api_core.caching",
    "CacheProvider": "api_core.protocols",
    "CheckResult": "api_core.health",
    "Command": "api_core.protocols",
    "CommandBus": "api_core.cqrs",
    "CommandHandler": "api_core.protocols",
    "ComparisonOperator": "api_core.specifications",
    "CorsSettings": "api_core.settings",
    "EntityNotFoundError": "api_core.errors",
    "Err": "api_core.result",
    "EventHandler": "api_core.protocols",
    "FieldSpecification": "api_core.specifications",
    "HandlerNotFoundError": "api_core.errors",
    "HandlerRegistrationError": "api_core.errors",
    "HealthCheck": "api_core.health",
    "HealthRegistry": "api_core.health",
    "HealthReport": "api_core.health",
    "HealthSettings": "api_core.settings",
    "Identifiable": "api_core.protocols",
    "InvalidFilterError": "api_core.errors",
    "Mapper": "api_core.protocols",
    "MemoryCache": "api_core.caching",
    "Ok": "api_core.result",
    "ProblemError": "api_core.errors",
    "Query": "api_core.protocols",
    "QueryBus": "api_core.cqrs",
    "QueryHandler": "api_core.protocols",
    "Result": "api_core.result",
    "SQLAlchemyRepository": "api_core.repository",
    "SQLAlchemyUnitOfWork": "api_core.repository",
    "SoftDeletable": "api_core.protocols",
    "Specification": "api_core.specifications",
    "SpecificationBuilder": "api_core.specifications",
    "SpecificationError": "api_core.errors",
    "Telemetry": "api_core.telemetry",
    "TelemetrySettings": "api_core.settings",
    "Timestamped": "api_core.protocols",
    "UnitOfWork": "api_core.protocols",
    "UnknownFieldError": "api_core.errors",
    "UnwrapError": "api_core.result",
    "WithEvents": "api_core.cqrs",
    "and_": "api_core.specifications",
    "cached": "api_core.caching",
    "create_app": "api_core.app",
    "create_cache": "api_core.caching",
    "database_check": "api_core.health_checks",
    "extract_trace_context": "api_core.telemetry",
    "filter_dependency": "api_core.specifications",
    "inject_trace_context": "api_core.telemetry",
    "not_": "api_core.specifications",
    "or_": "api_core.specifications",
    "problem_response": "api_core.problems",
    "redis_check": "api_core.health_checks",
    "setup_telemetry": "api_core.telemetry",
    "specification_from_query": "api_core.specifications",
    "traced": "api_core.telemetry",
    "use_trace_context": "api_core.telemetry",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'api_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
