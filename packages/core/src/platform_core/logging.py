"""Structured logging: JSON lines in services, readable lines on a console.

Built on structlog over the standard library, so records from plain
``logging.getLogger(...)`` loggers in third-party libraries render exactly like ours, and
pytest's ``caplog`` sees every event (the record's ``msg`` is the event dict).

Cost: an event from :func:`get_logger` is rendered straight to the platform handler's stream
with ``orjson`` whenever that handler is the only one its standard-library logger would reach
(the usual case in a service). Only when another handler is attached somewhere on the way
(``caplog``, a file handler, a filter) does the event become a ``logging.LogRecord`` and go
through the standard library, so every handler still receives it.

Importing this module is cheap: structlog and orjson (the machinery lives in
``platform_core._logsetup``) load on the first log call or :func:`configure_logging`, so a
module may call ``get_logger(__name__)`` at import time without paying for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    import logging

    import structlog

__all__ = [
    "bind_context",
    "clear_context",
    "configure_logging",
    "get_logger",
    "preload",
    "unbind_context",
]


class _LazyLogger:
    """Stands in for the structlog logger :func:`get_logger` returns until it is first used.

    The first attribute looked up (``info``, ``bind``, ...) loads structlog, configures it as
    :func:`get_logger` always did, and from then on every lookup goes to that logger. Each
    attribute is kept on the stand-in once looked up (structlog's bound loggers never change:
    ``bind`` returns a new one), so a hot ``log.info`` costs a plain attribute lookup, not a
    call of ``__getattr__`` every time.
    """

    _OWN = frozenset({"_bound", "_logger", "_name"})

    def __init__(self, name: str, bound: dict[str, Any]) -> None:
        self._name = name
        self._bound = bound
        self._logger: Any = None

    def _resolve(self) -> Any:
        from platform_core._logsetup import ensure_structlog

        ensure_structlog()
        import structlog

        logger: Any = structlog.get_logger(self._name)
        if self._bound:
            logger = logger.bind(**self._bound)
        self._logger = logger
        return logger

    def __getattr__(self, attr: str) -> Any:
        if attr in _LazyLogger._OWN or attr.startswith("__"):  # a copy or unpickle in progress
            raise AttributeError(attr)
        logger = self._logger
        if logger is None:
            logger = self._resolve()
        value = getattr(logger, attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        state = "unresolved" if self._logger is None else repr(self._logger)
        return f"<platform_core logger {self._name!r} {state}>"


def build_formatter(fmt: Literal["json", "console"] = "json") -> logging.Formatter:
    """Return the formatter that renders both structlog and stdlib records.

    Args:
        fmt: ``"json"`` for one JSON object per line, ``"console"`` for humans.
    """
    from platform_core._logsetup import build_formatter as build

    return build(fmt)


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
    if fmt not in ("json", "console"):
        raise ValueError(f"log format must be 'json' or 'console', got {fmt!r}")
    from platform_core._logsetup import install_handler

    install_handler(level, fmt, stream)


def get_logger(name: str, **bound: Any) -> structlog.stdlib.BoundLogger:
    """Return a structured logger named ``name`` with ``bound`` key-values on every event.

    structlog itself loads on the logger's first use, so calling this at import time is free.

    Args:
        name: The logger name, usually ``__name__``.
        **bound: Key-values added to every event from this logger.
    """
    return cast("structlog.stdlib.BoundLogger", _LazyLogger(name, bound))


def preload() -> None:
    """Load structlog and orjson now instead of at the first log call.

    A long-running process calls this as it starts (``necrostack.Spine.run`` does), so that
    its first line, often written while it stops or fails, does not wait for the imports.
    :func:`configure_logging` implies it.
    """
    from platform_core._logsetup import ensure_structlog

    ensure_structlog()


def bind_context(**values: Any) -> Mapping[str, Any]:
    """Bind key-values (request id, event id, ...) to every log event in this context.

    Returns:
        The tokens to pass to :func:`unbind_context` to restore the previous values.
    """
    from structlog.contextvars import bind_contextvars

    return bind_contextvars(**values)


def unbind_context(tokens: Mapping[str, Any]) -> None:
    """Restore the context variables changed by :func:`bind_context`."""
    from structlog.contextvars import reset_contextvars

    reset_contextvars(**tokens)


def clear_context() -> None:
    """Remove every context variable bound in this context."""
    from structlog.contextvars import clear_contextvars

    clear_contextvars()
