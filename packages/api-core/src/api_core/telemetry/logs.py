"""OTLP log export of structured records: the event as the body, its key-values as attributes.

``platform_core.logging`` hands stdlib handlers a record whose ``msg`` is structlog's event
dict and whose extras include the structlog logger object (``_logger``) and its name
(``_name``). The stock OpenTelemetry ``LoggingHandler`` would export ``str(dict)`` as the body
and try to export the logger object as an attribute (an ``Invalid type`` warning on every
line). :class:`StructuredLoggingHandler` turns each record into a plain one first: the body is
the event text, every key-value becomes an attribute of a type OTLP accepts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.instrumentation.logging.handler import LoggingHandler

__all__ = ["StructuredLoggingHandler"]

# Added by structlog's ProcessorFormatter.wrap_for_formatter: the logger object and its name.
_STRUCTLOG_EXTRAS = ("_logger", "_name", "_from_structlog")
# Event-dict keys the OTLP record already carries natively (severity, time, span context).
_NATIVE_KEYS = frozenset(("event", "level", "timestamp", "trace_id", "span_id"))
_PRIMITIVES = (str, bool, int, float)
# Attributes of every LogRecord: never copied from an event dict onto the record.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({})))


def _attribute_value(value: Any) -> Any:
    """``value`` if OTLP accepts it as an attribute, else its text."""
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = list(value)
        if items and all(isinstance(v, str) for v in items):
            return items
    return str(value)


def _plain_record(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of ``record`` with a text message and only exportable extras."""
    plain = logging.makeLogRecord(vars(record))
    for key in _STRUCTLOG_EXTRAS:
        plain.__dict__.pop(key, None)
    event = record.msg
    if isinstance(event, Mapping):
        plain.msg, plain.args = str(event.get("event", "")), ()
        for key, value in event.items():
            if key not in _NATIVE_KEYS and key not in _RECORD_ATTRS:
                plain.__dict__[str(key)] = value
    for key, value in list(plain.__dict__.items()):
        if key not in _RECORD_ATTRS:
            plain.__dict__[key] = _attribute_value(value)
    return plain


class StructuredLoggingHandler(LoggingHandler):
    """An OpenTelemetry ``LoggingHandler`` for ``platform_core.logging`` records.

    Structlog records are exported with the event text as the body and their key-values as
    attributes; values OTLP cannot carry (objects, mappings) are exported as their text.
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Export a plain copy of ``record`` (other handlers still see the original)."""
        super().emit(_plain_record(record))
