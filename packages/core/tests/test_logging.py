"""JSON log lines: shape, context, stdlib loggers, trace correlation, caplog visibility."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from pydantic import SecretStr

from platform_core.logging import (
    bind_context,
    clear_context,
    configure_logging,
    get_logger,
    unbind_context,
)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    configure_logging("DEBUG", "json", stream=buf)
    yield buf
    clear_context()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "platform_core":
            root.removeHandler(handler)


def lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_json_line_shape(stream: io.StringIO) -> None:
    get_logger("orders", service="billing").info("order placed", order_id=42)
    (line,) = lines(stream)
    assert line["event"] == "order placed"
    assert line["level"] == "info"
    assert line["logger"] == "orders"
    assert line["service"] == "billing"
    assert line["order_id"] == 42
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", str(line["timestamp"]))
    assert "trace_id" not in line


def test_context_variables_are_attached_and_removed(stream: io.StringIO) -> None:
    log = get_logger("api")
    tokens = bind_context(request_id="r-1", event_id="e-9")
    log.info("inside")
    unbind_context(tokens)
    log.info("outside")
    inside, outside = lines(stream)
    assert inside["request_id"] == "r-1"
    assert inside["event_id"] == "e-9"
    assert "request_id" not in outside


def test_stdlib_logger_renders_the_same_way(stream: io.StringIO) -> None:
    tokens = bind_context(request_id="r-2")
    logging.getLogger("thirdparty.lib").warning("disk %s%% full", 91)
    unbind_context(tokens)
    (line,) = lines(stream)
    assert line["event"] == "disk 91% full"
    assert line["level"] == "warning"
    assert line["logger"] == "thirdparty.lib"
    assert line["request_id"] == "r-2"
    assert str(line["timestamp"]).endswith("Z")


def test_trace_and_span_ids_from_a_real_span(stream: io.StringIO) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        get_logger("traced").info("in span")
        logging.getLogger("traced.stdlib").info("stdlib in span")
        ctx = span.get_span_context()
    get_logger("traced").info("after span")
    in_span, stdlib_in_span, after = lines(stream)
    assert in_span["trace_id"] == format(ctx.trace_id, "032x")
    assert in_span["span_id"] == format(ctx.span_id, "016x")
    assert stdlib_in_span["trace_id"] == in_span["trace_id"]
    assert "trace_id" not in after


def test_exceptions_are_rendered(stream: io.StringIO) -> None:
    try:
        raise ValueError("bad payload")
    except ValueError:
        get_logger("x").exception("handler failed")
    (line,) = lines(stream)
    assert "ValueError: bad payload" in str(line["exception"])


def test_secrets_are_redacted(stream: io.StringIO) -> None:
    get_logger("x").info("connecting", password=SecretStr("hunter2"))
    assert "hunter2" not in stream.getvalue()


def test_caplog_sees_structured_events(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    get_logger("necro").info("event handled", event_id="e1", organ="Scribe")
    (record,) = [r for r in caplog.records if r.name == "necro"]
    assert isinstance(record.msg, dict)
    assert record.msg["event_id"] == "e1"
    assert record.msg["organ"] == "Scribe"


def test_console_format_is_readable() -> None:
    buf = io.StringIO()
    configure_logging("INFO", "console", stream=buf)
    try:
        get_logger("c").info("hello", user="ana")
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if handler.get_name() == "platform_core":
                root.removeHandler(handler)
    out = buf.getvalue()
    assert "hello" in out
    assert "user=ana" in out


def test_bad_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="'json' or 'console'"):
        configure_logging("INFO", "xml")  # type: ignore[arg-type]


@pytest.fixture
def platform_only(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The platform handler as the root logger's only handler (pytest's own capture handlers
    are set aside), which is what a service runs with: events take the direct path."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == "platform_core"]
    monkeypatch.setattr(root, "handlers", ours)
    return stream


def _without_time(line: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in line.items() if k != "timestamp"}


def test_direct_path_writes_the_same_line_as_the_record_path(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = get_logger("orders", service="billing")
    tokens = bind_context(request_id="r-3")
    log.info("order placed", order_id=42, price=1.5, tags=["a"], when=None)
    root = logging.getLogger()
    with monkeypatch.context() as m:
        m.setattr(root, "handlers", [h for h in root.handlers if h.get_name() == "platform_core"])
        log.info("order placed", order_id=42, price=1.5, tags=["a"], when=None)
    unbind_context(tokens)
    via_record, direct = lines(stream)
    assert _without_time(direct) == _without_time(via_record)
    assert list(direct) == list(via_record)  # same key order
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", str(direct["timestamp"]))


def test_direct_path_redacts_renders_exceptions_and_odd_values(
    platform_only: io.StringIO,
) -> None:
    log = get_logger("x")
    log.info("connecting", password=SecretStr("hunter2"), huge=2**70, key={1: "int key"})
    try:
        raise ValueError("bad payload")
    except ValueError:
        log.exception("handler failed")
    log.debug("debug passes the DEBUG level")
    connecting, failed, debug = lines(platform_only)
    assert "hunter2" not in platform_only.getvalue()
    assert connecting["password"] == "**********"
    assert connecting["huge"] == 2**70
    assert connecting["key"] == {"1": "int key"}
    assert "ValueError: bad payload" in str(failed["exception"])
    assert failed["level"] == "error"
    assert debug["level"] == "debug"


def test_direct_path_honours_levels(platform_only: io.StringIO) -> None:
    logging.getLogger("quiet").setLevel(logging.WARNING)
    try:
        get_logger("quiet").info("dropped")
        get_logger("quiet").warning("kept")
    finally:
        logging.getLogger("quiet").setLevel(logging.NOTSET)
    assert [line["event"] for line in lines(platform_only)] == ["kept"]


def test_another_handler_on_the_way_receives_the_event(platform_only: io.StringIO) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    extra = Keep()
    logging.getLogger("billing").addHandler(extra)
    try:
        get_logger("billing.invoices").info("invoice sent", invoice=7)
    finally:
        logging.getLogger("billing").removeHandler(extra)
    (line,) = lines(platform_only)
    assert (line["event"], line["invoice"]) == ("invoice sent", 7)
    (record,) = seen
    assert isinstance(record.msg, dict)
    assert record.msg["invoice"] == 7
