"""Checking that a handler fits the message type it is registered for."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Any

from api_core.errors import HandlerRegistrationError

__all__ = ["as_callable"]


def as_callable(message_type: type[Any], handler: Any) -> Callable[[Any], Awaitable[Any]]:
    """Return the coroutine function to call for ``handler`` (a function or an object with an
    async ``handle``), rejecting ones that cannot take ``message_type``."""
    if not isinstance(message_type, type):
        raise HandlerRegistrationError(f"{message_type!r} is not a class; register message types")
    func = handler if inspect.isfunction(handler) or inspect.ismethod(handler) else None
    if func is None:
        func = getattr(handler, "handle", None)
    label = getattr(handler, "__qualname__", type(handler).__qualname__)
    if func is None or not inspect.iscoroutinefunction(func):
        raise HandlerRegistrationError(
            f"handler {label} for {message_type.__qualname__} must be an async function "
            "or have an async handle(message) method"
        )
    params = [
        p
        for p in inspect.signature(func).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required_other = [
        p
        for p in inspect.signature(func).parameters.values()
        if p.default is p.empty and p.kind is p.KEYWORD_ONLY
    ]
    if len(params) < 1 or any(p.default is p.empty for p in params[1:]) or required_other:
        raise HandlerRegistrationError(
            f"handler {label} must take exactly one required argument (the "
            f"{message_type.__qualname__}); its signature is {inspect.signature(func)}"
        )
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable annotations (forward refs): fall back to no type check
        hints = {}
    expected = hints.get(params[0].name)
    if isinstance(expected, type) and not issubclass(message_type, expected):
        raise HandlerRegistrationError(
            f"handler {label} takes {expected.__qualname__}, "
            f"not {message_type.__qualname__}; register it for the type it handles"
        )
    return func
