"""``setup_telemetry``: tracer, meter and logger providers exporting over OTLP/HTTP."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from api_core.settings import ApiSettings
from platform_core.logging import get_logger

__all__ = ["Telemetry", "setup_telemetry"]

_log = get_logger(__name__)


@dataclass
class Telemetry:
    """The providers :func:`setup_telemetry` created (all ``None`` when disabled).

    Call :meth:`shutdown` at exit: it flushes every exporter.
    """

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    logger_provider: Any = None
    _log_handler: logging.Handler | None = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        """Whether anything is exported."""
        return self.tracer_provider is not None

    def shutdown(self) -> None:
        """Flush and stop every provider; safe to call twice."""
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler = None
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is not None:
                provider.force_flush()
                provider.shutdown()
        self.tracer_provider = self.meter_provider = self.logger_provider = None


def _headers(settings: ApiSettings) -> dict[str, str]:
    raw = settings.telemetry.otlp_headers
    if raw is None:
        return {}
    pairs = (item.partition("=") for item in raw.get_secret_value().split(",") if item)
    return {k.strip(): v.strip() for k, _, v in pairs}


def setup_telemetry(
    settings: ApiSettings,
    *,
    span_exporter: SpanExporter | None = None,
    span_processor: SpanProcessor | None = None,
    metric_reader: MetricReader | None = None,
    log_exporter: Any = None,
    set_global: bool = True,
    instrument_libraries: bool = True,
) -> Telemetry:
    """Create OpenTelemetry providers with ``service.name`` / ``service.version`` resources.

    With ``settings.telemetry.enabled`` the providers export over OTLP/HTTP to
    ``settings.telemetry.otlp_endpoint`` (``/v1/traces``, ``/v1/metrics``, ``/v1/logs``), and
    stdlib/structlog records are exported as OTLP logs. When disabled and no exporter is passed,
    nothing is created. Log lines carry ``trace_id``/``span_id`` through
    :mod:`platform_core.logging` either way.

    Args:
        settings: The service settings.
        span_exporter: Export spans here instead of OTLP (batched), e.g. for tests.
        span_processor: Use this processor as is (e.g. ``SimpleSpanProcessor``).
        metric_reader: Read metrics with this reader instead of periodic OTLP export.
        log_exporter: Export logs here instead of OTLP.
        set_global: Install the providers as the process-wide ones.
        instrument_libraries: With ``set_global``, also record client spans (and propagate
            ``traceparent``) for every httpx and Redis client of the process. SQLAlchemy
            engines are instrumented one by one: :func:`~api_core.telemetry.instrument_sqlalchemy`.
    """
    tel = settings.telemetry
    custom = span_exporter or span_processor or metric_reader or log_exporter
    if not tel.enabled and not custom:
        return Telemetry()
    resource = Resource.create(
        {
            "service.name": settings.service_name,
            "service.version": settings.service_version,
            "deployment.environment.name": settings.environment,
        }
    )
    headers = _headers(settings)
    base = tel.otlp_endpoint.rstrip("/")

    tracer_provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(tel.sample_ratio))
    )
    if span_processor is not None:
        tracer_provider.add_span_processor(span_processor)
    elif span_exporter is not None:
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    elif tel.enabled:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{base}/v1/traces", headers=headers)
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))

    readers: list[MetricReader] = []
    if metric_reader is not None:
        readers.append(metric_reader)
    elif tel.enabled:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=f"{base}/v1/metrics", headers=headers),
                export_interval_millis=tel.export_interval * 1000,
            )
        )
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)

    logger_provider, handler = _logs(resource, base, headers, log_exporter, tel.enabled)
    if set_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
        if instrument_libraries:
            from api_core.telemetry.instrumentation import instrument_libraries as instrument

            instrument()
    _log.info(
        "telemetry started",
        service=settings.service_name,
        endpoint=base if tel.enabled else None,
    )
    return Telemetry(tracer_provider, meter_provider, logger_provider, handler)


def _logs(
    resource: Resource, base: str, headers: dict[str, str], exporter: Any, enabled: bool
) -> tuple[Any, logging.Handler | None]:
    if exporter is None and not enabled:
        return None, None
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor

    provider = LoggerProvider(resource=resource)
    if exporter is not None:
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        otlp = OTLPLogExporter(endpoint=f"{base}/v1/logs", headers=headers)
        provider.add_log_record_processor(BatchLogRecordProcessor(otlp))
    from api_core.telemetry.logs import StructuredLoggingHandler

    handler = StructuredLoggingHandler(logger_provider=provider)
    logging.getLogger().addHandler(handler)
    return provider, handler
