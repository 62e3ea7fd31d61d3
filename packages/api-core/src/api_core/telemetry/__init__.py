"""OpenTelemetry: providers, ``@traced``, HTTP/DB/Redis instrumentation, context propagation."""

from api_core.telemetry.http import instrument_app, instrument_httpx_client
from api_core.telemetry.instrumentation import (
    instrument_httpx,
    instrument_libraries,
    instrument_redis,
    instrument_sqlalchemy,
)
from api_core.telemetry.logs import StructuredLoggingHandler
from api_core.telemetry.setup import Telemetry, setup_telemetry
from api_core.telemetry.tracing import (
    extract_trace_context,
    inject_trace_context,
    traced,
    use_trace_context,
)

__all__ = [
    "StructuredLoggingHandler",
    "Telemetry",
    "extract_trace_context",
    "inject_trace_context",
    "instrument_app",
    "instrument_httpx",
    "instrument_httpx_client",
    "instrument_libraries",
    "instrument_redis",
    "instrument_sqlalchemy",
    "setup_telemetry",
    "traced",
    "use_trace_context",
]
