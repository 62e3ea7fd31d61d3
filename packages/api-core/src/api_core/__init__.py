"""api-core: FastAPI infrastructure shared by the platform's services.

``create_app`` and settings; specifications compiled to SQL and query-parameter filters;
protocols, ``Result`` and a SQLAlchemy repository; caching; OpenTelemetry; CQRS buses; health;
the "storable value" check and fixed-window rate limiters.
"""

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
