"""Middleware for the command and query buses.

A middleware is ``async def mw(message, call_next) -> result``; the first in the list is the
outermost. Exceptions propagate outwards and become ``Err`` at the bus.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import trace
from pydantic import BaseModel

from api_core.protocols import UnitOfWork
from platform_core.logging import get_logger

__all__ = [
    "Middleware",
    "Next",
    "current_unit_of_work",
    "logging_middleware",
    "tracing_middleware",
    "transaction_middleware",
    "validation_middleware",
]

Next = Callable[[Any], Awaitable[Any]]
Middleware = Callable[[Any, Next], Awaitable[Any]]

_log = get_logger("api_core.cqrs")
_tracer = trace.get_tracer("api_core.cqrs")
_uow: contextvars.ContextVar[UnitOfWork | None] = contextvars.ContextVar(
    "api_core_uow", default=None
)


async def logging_middleware(message: Any, call_next: Next) -> Any:
    """Log each message's type, outcome and duration."""
    started = time.perf_counter()
    name = type(message).__qualname__
    try:
        result = await call_next(message)
    except Exception as exc:
        _log.warning(
            "message failed",
            message_type=name,
            error=f"{type(exc).__name__}: {exc}",
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        raise
    _log.info(
        "message handled",
        message_type=name,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
    return result


async def tracing_middleware(message: Any, call_next: Next) -> Any:
    """Run the handler in a span named ``cqrs <MessageType>`` (errors recorded)."""
    name = type(message).__qualname__
    with _tracer.start_as_current_span(f"cqrs {name}", attributes={"cqrs.message_type": name}):
        return await call_next(message)


async def validation_middleware(message: Any, call_next: Next) -> Any:
    """Re-validate pydantic messages (catches mutation after construction) and call a
    message's own ``validate()`` method when it has one."""
    if isinstance(message, BaseModel):
        type(message).model_validate(message.model_dump())
    check = getattr(message, "validate", None)
    if callable(check) and not isinstance(message, BaseModel):
        check()
    return await call_next(message)


def transaction_middleware(factory: Callable[[], UnitOfWork]) -> Middleware:
    """Run each message in a unit of work from ``factory``: commit on success, roll back on
    error. Handlers reach it through :func:`current_unit_of_work`."""

    async def middleware(message: Any, call_next: Next) -> Any:
        async with factory() as uow:
            token = _uow.set(uow)
            try:
                result = await call_next(message)
                await uow.commit()
                return result
            finally:
                _uow.reset(token)

    return middleware


def current_unit_of_work() -> UnitOfWork:
    """The unit of work opened by :func:`transaction_middleware` for this message.

    Raises:
        LookupError: outside a transaction middleware.
    """
    uow = _uow.get()
    if uow is None:
        raise LookupError("no unit of work: add transaction_middleware to the bus")
    return uow
