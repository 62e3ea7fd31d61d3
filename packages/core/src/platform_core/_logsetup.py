"""The structlog side of :mod:`platform_core.logging`: processors, the sink, the handler.

Loaded on first use (a log call, :func:`~platform_core.logging.configure_logging`), because
structlog pulls in rich and friends at import and most importers of the platform's packages
never log. The design notes live in :mod:`platform_core.logging`.
"""

from __future__ import annotations

import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["build_formatter", "ensure_structlog", "install_handler"]

_HANDLER_NAME = "platform_core"
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE


def _timestamp(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # isoformat() of a naive datetime is the fastest exact rendering: always six digits.
    now = datetime.now(UTC).replace(tzinfo=None)
    event_dict["timestamp"] = now.isoformat(timespec="microseconds") + "Z"
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


_SECRET_TYPES: tuple[type, ...] | None = None
_HIDDEN = "**********"


def _secret_types() -> tuple[type, ...]:
    global _SECRET_TYPES
    if _SECRET_TYPES is None:
        from pydantic import SecretBytes, SecretStr

        _SECRET_TYPES = (SecretStr, SecretBytes)
    return _SECRET_TYPES


def _redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    secret = _secret_types()
    for key, value in event_dict.items():
        if isinstance(value, secret):
            event_dict[key] = _HIDDEN
    return event_dict


def _default(value: Any) -> Any:
    # orjson calls this only for values it cannot render itself, so secrets (at any depth)
    # are hidden here at no cost to ordinary lines.
    if isinstance(value, _secret_types()):
        return _HIDDEN
    return str(value)


def _dumps(event_dict: EventDict) -> str:
    try:
        return orjson.dumps(event_dict, default=_default, option=_OPTIONS).decode()
    except TypeError:  # e.g. an integer beyond 64 bits, which orjson refuses
        import json

        return json.dumps(event_dict, default=_default, separators=(",", ":")) + "\n"


def _json_renderer(_: WrappedLogger, __: str, event_dict: EventDict) -> str:
    return _dumps(event_dict)[:-1]


_LEVELS = {
    "debug": (logging.DEBUG, "debug"),
    "info": (logging.INFO, "info"),
    "warning": (logging.WARNING, "warning"),
    "warn": (logging.WARNING, "warning"),
    "error": (logging.ERROR, "error"),
    "exception": (logging.ERROR, "error"),
    "critical": (logging.CRITICAL, "critical"),
    "fatal": (logging.CRITICAL, "critical"),
}
_stack_info = structlog.processors.StackInfoRenderer()
_exc_info = structlog.processors.format_exc_info


def _prepare(sink: WrappedLogger, method: str, event_dict: EventDict) -> Any:
    """The whole structlog-side chain in one step: level filter, context, level, logger name,
    timestamp, trace ids, stack and exception text; hands the dict to the sink."""
    number, name = _LEVELS.get(method, (logging.INFO, method))
    logger = sink._logger
    if logger.disabled or not logger.isEnabledFor(number):
        raise structlog.DropEvent
    event_dict = structlog.contextvars.merge_contextvars(sink, method, event_dict)
    event_dict["level"] = name
    event_dict["logger"] = sink.name
    _timestamp(sink, method, event_dict)
    _add_trace_ids(sink, method, event_dict)
    if "stack_info" in event_dict:
        event_dict = _stack_info(sink, method, event_dict)
    if "exc_info" in event_dict:
        event_dict = _exc_info(sink, method, event_dict)
    return (event_dict,), {}


# --- the sink structlog loggers write to ---------------------------------------------------


class _Sink:
    """What a structlog logger from :func:`get_logger` wraps: the standard-library logger of
    the same name, plus a shortcut to the platform handler when it is the only handler."""

    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger = logging.getLogger(name)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - the stdlib logger's protocol
        """Whether the standard-library logger lets ``level`` through."""
        return self._logger.isEnabledFor(level)

    def getEffectiveLevel(self) -> int:  # noqa: N802 - the stdlib logger's protocol
        """The standard-library logger's effective level."""
        return self._logger.getEffectiveLevel()

    def __getattr__(self, name: str) -> Any:
        # Anything else (handlers, setLevel, ...) is the standard-library logger's.
        return getattr(self._logger, name)

    def _only_platform_handler(self) -> _PlatformHandler | None:
        found: _PlatformHandler | None = None
        logger: logging.Logger | None = self._logger
        while logger is not None:
            if logger.filters or logger.disabled:
                return None
            for handler in logger.handlers:
                if found is None and isinstance(handler, _PlatformHandler):
                    found = handler
                else:
                    return None
            if not logger.propagate:
                break
            logger = logger.parent
        return found

    def _emit(self, level: int, method: str, event_dict: EventDict) -> None:
        handler = self._only_platform_handler()
        if handler is not None:
            if level >= handler.level:
                handler.write_event(method, event_dict)
            return
        record = self._logger.makeRecord(
            self.name, level, "(structlog)", 0, event_dict, (), None, None,
            {"_logger": self, "_name": method, "_from_structlog": True},
        )  # fmt: skip
        self._logger.handle(record)

    def debug(self, event_dict: EventDict) -> None:
        """Emit at DEBUG."""
        self._emit(logging.DEBUG, "debug", event_dict)

    def info(self, event_dict: EventDict) -> None:
        """Emit at INFO."""
        self._emit(logging.INFO, "info", event_dict)

    def warning(self, event_dict: EventDict) -> None:
        """Emit at WARNING."""
        self._emit(logging.WARNING, "warning", event_dict)

    warn = warning

    def error(self, event_dict: EventDict) -> None:
        """Emit at ERROR."""
        self._emit(logging.ERROR, "error", event_dict)

    exception = error

    def critical(self, event_dict: EventDict) -> None:
        """Emit at CRITICAL."""
        self._emit(logging.CRITICAL, "critical", event_dict)

    fatal = critical


def _sink_factory(*args: Any) -> _Sink:
    return _Sink(args[0] if args else "root")


def ensure_structlog() -> None:
    """Configure structlog for the platform unless the application configured it first."""
    if structlog.is_configured():
        return
    structlog.configure(
        processors=[_prepare],
        logger_factory=_sink_factory,
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


# --- the handler ------------------------------------------------------------------------


class _PlatformHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that also takes finished structlog event dicts directly."""

    def __init__(self, stream: Any, fmt: Literal["json", "console"]) -> None:
        super().__init__(stream)
        self.set_name(_HANDLER_NAME)
        self.setFormatter(build_formatter(fmt))
        self._json = fmt == "json"
        self._console = None if self._json else structlog.dev.ConsoleRenderer(colors=False)
        self._write_lock = threading.Lock()

    def write_event(self, method: str, event_dict: EventDict) -> None:
        """Render ``event_dict`` (already through the shared processors) and write it."""
        try:
            if self._json:
                line = _dumps(event_dict)
            else:
                assert self._console is not None
                line = self._console(None, method, _redact(None, method, event_dict)) + "\n"
            with self._write_lock:
                self.stream.write(line)
                self.stream.flush()
        except Exception:  # the same guarantee as logging.Handler.emit
            self.handleError(logging.makeLogRecord({"msg": event_dict}))


def _drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # uvicorn attaches an ANSI-coloured copy of some messages as the extra `color_message`.
    event_dict.pop("color_message", None)
    return event_dict


def build_formatter(fmt: Literal["json", "console"] = "json") -> logging.Formatter:
    """Return the formatter that renders both structlog and stdlib records.

    Args:
        fmt: ``"json"`` for one JSON object per line, ``"console"`` for humans.
    """
    renderer: Processor
    if fmt == "json":
        renderer = _json_renderer
    elif fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        raise ValueError(f"log format must be 'json' or 'console', got {fmt!r}")
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *_shared_processors(),
            structlog.stdlib.ExtraAdder(),
            _drop_color_message,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([] if fmt == "json" else [_redact]),  # JSON hides secrets as it renders
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def install_handler(level: int | str, fmt: Literal["json", "console"], stream: Any) -> None:
    """Put the platform handler on the root logger, replacing a previous one (see
    :func:`platform_core.logging.configure_logging`)."""
    ensure_structlog()
    handler = _PlatformHandler(stream or sys.stderr, fmt)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
