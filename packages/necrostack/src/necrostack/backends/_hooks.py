"""Calling a backend's ``on_dead_letter`` hook without letting it break the worker."""

from __future__ import annotations

from necrostack.backends.base import DeadLetter, DeadLetterHook
from platform_core.logging import get_logger

_log = get_logger("necrostack.backends")


async def notify_dead_letter(hook: DeadLetterHook | None, dead: DeadLetter) -> None:
    """Await ``hook(dead)``; an exception it raises is logged and swallowed.

    The event is already dead-lettered when the hook runs, so a failing hook cannot undo that;
    letting its error escape would only stop the Spine that nacked the event.
    """
    if hook is None:
        return
    try:
        await hook(dead)
    except Exception as exc:
        _log.exception(
            "dead-letter hook failed",
            event_id=dead.event.id,
            event_type=dead.event.event_type,
            error=repr(exc),
        )
