"""Structured logging: JSON lines in services, readable lines on a console.

Built on structlog over the standard library, so records from plain
``logging.getLogger(...)`` loggers in third-party libraries render exactly like ours, and
pytest's ``caplog`` sees every event (the record's ``msg`` is the event dict).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "bind_context",
    "clear_context",
    "configure_logging",
    "get_logger",
    "unbind_context",
]

_HANDLER_NAME = "platform_core"


def _timestamp(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    now = datetime.now(UTC)
    event_dict["timestamp"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}Z"
    return event_dict


def _add_trace_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Attach the active OpenTelemetry span's ids, when opentelemetry is importable."""
    trace_mod = _otel_trace()
    if trace_mod is None:
        return event_dict
    ctx = trace_mod.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


_OTEL: Any = None
_OTEL_CHECKED = False


def _otel_trace() -> Any:
    global _OTEL, _OTEL_CHECKED
    if not _OTEL_CHECKED:
        _OTEL_CHECKED = True
        try:
            from opentelemetry import trace
        except ImportError:
            _OTEL = None
        else:
            _OTEL = trace
    return _OTEL


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _timestamp,
        _add_trace_ids,
    ]


def _ensure_structlog() -> None:
    if structlog.is_configured():
        return
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _json_dumps(obj: Any, **kwargs: Any) -> str:
    import json

    return json.dumps(obj, default=str, separators=(",", ":"))


def _redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    from pydantic import SecretBytes, SecretStr

    for key, value in event_dict.items():
        if isinstance(value, SecretStr | SecretBytes):
            event_dict[key] = "**********"
    return event_dict


def build_formatter(fmt: Literal["json", "console"] = "json") -> logging.Formatter:
    """Return the formatter that renders both structlog and stdlib records.

    Args:
        fmt: ``"json"`` for one JSON object per line, ``"console"`` for humans.
    """
    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
    elif fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        raise ValueError(f"log format must be 'json' or 'console', got {fmt!r}")
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def configure_logging(
    level: int | str = "INFO",
    fmt: Literal["json", "console"] = "json",
    *,
    stream: Any = None,
) -> None:
    """Install the platform's log handler on the root logger.

    Calling it again replaces the previous handler, so services may reconfigure at start.

    Args:
        level: A logging level name or number.
        fmt: ``"json"`` (services) or ``"console"`` (development).
        stream: Where lines go; standard error by default.
    """
    _ensure_structlog()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(build_formatter(fmt))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)


def get_logger(name: str, **bound: Any) -> structlog.stdlib.BoundLogger:
    """Return a structured logger named ``name`` with ``bound`` key-values on every event.

    Args:
        name: The logger name, usually ``__name__``.
        **bound: Key-values added to every event from this logger.
    """
    _ensure_structlog()
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger.bind(**bound) if bound else logger


def bind_context(**values: Any) -> Mapping[str, Any]:
    """Bind key-values (request id, event id, ...) to every log event in this context.

    Returns:
        The tokens to pass to :func:`unbind_context` to restore the previous values.
    """
    return structlog.contextvars.bind_contextvars(**values)


def unbind_context(tokens: Mapping[str, Any]) -> None:
    """Restore the context variables changed by :func:`bind_context`."""
    structlog.contextvars.reset_contextvars(**tokens)


def clear_context() -> None:
    """Remove every context variable bound in this context."""
    structlog.contextvars.clear_contextvars()
