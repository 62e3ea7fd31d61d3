"""OTLP/HTTP export to a local collector stand-in, and OTLP log records."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

from api_core import ApiSettings, setup_telemetry
from platform_core.logging import get_logger


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, str, int]] = []  # noqa: RUF012 - shared by handler instances

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append(
            (
                self.path,
                self.headers.get("content-type", ""),
                self.headers.get("x-api-key", ""),
                len(body),
            )
        )
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, str, int]]]]:
    received: list[tuple[str, str, str, int]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_enabled_telemetry_exports_traces_metrics_and_logs_over_otlp(
    collector: tuple[str, list[tuple[str, str, str, int]]],
) -> None:
    endpoint, received = collector
    settings = ApiSettings.load(
        service_name="orders",
        telemetry={"enabled": True, "otlp_endpoint": endpoint, "otlp_headers": "x-api-key=s3cret"},
    )
    tel = setup_telemetry(settings, set_global=False)
    assert tel.enabled
    assert tel.tracer_provider is not None
    assert tel.meter_provider is not None
    with tel.tracer_provider.get_tracer("t").start_as_current_span("work"):
        logging.getLogger("api_core.tests.otlp").warning("inside work")
    tel.meter_provider.get_meter("m").create_counter("orders.placed").add(1)
    tel.shutdown()  # flushes every exporter
    paths = {path for path, *_ in received}
    assert {"/v1/traces", "/v1/metrics", "/v1/logs"} <= paths
    assert all(ctype == "application/x-protobuf" for _, ctype, _, _ in received)
    assert all(key == "s3cret" for _, _, key, _ in received)
    assert not any(h.__class__.__name__ == "LoggingHandler" for h in logging.getLogger().handlers)


def test_log_records_carry_the_span_context() -> None:
    exporter = InMemoryLogRecordExporter()
    tel = setup_telemetry(ApiSettings.load(), log_exporter=exporter, set_global=False)
    assert tel.tracer_provider is not None
    logger = logging.getLogger("api_core.tests.logs")
    logger.setLevel(logging.INFO)
    with tel.tracer_provider.get_tracer("t").start_as_current_span("work") as span:
        get_logger("api_core.tests.logs").info("order placed", order_id=7)
    tel.shutdown()
    (record,) = [
        r for r in exporter.get_finished_logs() if "order placed" in str(r.log_record.body)
    ]
    assert record.log_record.trace_id == span.get_span_context().trace_id
    assert record.resource.attributes["service.name"] == "api"


def test_structured_log_lines_export_their_event_and_fields_without_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = InMemoryLogRecordExporter()
    tel = setup_telemetry(ApiSettings.load(), log_exporter=exporter, set_global=False)
    logger = logging.getLogger("api_core.tests.fields")
    logger.setLevel(logging.INFO)
    with caplog.at_level(logging.WARNING, logger="opentelemetry"):
        get_logger("api_core.tests.fields").info(
            "order placed", order_id=7, tags=["a", "b"], customer={"id": 3}
        )
        logging.getLogger("api_core.tests.fields").info("plain %s", "stdlib", extra={"n": 2})
    tel.shutdown()
    assert not [r for r in caplog.records if "Invalid type" in r.getMessage()]
    records = {
        str(r.log_record.body): r.log_record.attributes or {} for r in exporter.get_finished_logs()
    }
    structured = records["order placed"]
    assert structured["order_id"] == 7
    assert tuple(structured["tags"]) == ("a", "b")  # type: ignore[arg-type]
    assert structured["customer"] == "{'id': 3}"
    assert "_logger" not in structured
    assert records["plain stdlib"]["n"] == 2
