"""Wake long-polling claims when a task may have become runnable.

A claim with ``wait`` that finds nothing waits on :class:`Wakeup` and tries again when woken.
Within one process every change that can make a task runnable (a task entering ``Pending``,
or a completion some task waits on) wakes the waiters at once, and a retry held back until
``run_after`` wakes them when that time comes. On PostgreSQL a trigger (migration 0004) sends
``NOTIFY taskqueue_runnable`` at the commit of such a change, and one
``LISTEN`` connection per server process wakes its waiters, so a task created through any
process is picked up in milliseconds. Waiters also re-check every ``poll_interval`` seconds
(short on SQLite, where nothing crosses processes; long on PostgreSQL, as a safety net).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from platform_core.logging import get_logger

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["NOTIFY_CHANNEL", "Wakeup"]

NOTIFY_CHANNEL = "taskqueue_runnable"
_SQLITE_POLL = 0.2
_POSTGRES_POLL = 10.0
_RECONNECT = 1.0

_log = get_logger(__name__)


class Wakeup:
    """A broadcast signal: :meth:`signal` is taken before a claim, awaited after it.

    Args:
        engine: The server's engine; on PostgreSQL :meth:`start` listens for notifications.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._event = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self.listening = False
        self.postgres = engine.dialect.name == "postgresql"

    @property
    def poll_interval(self) -> float:
        """Seconds a waiter sleeps at most before it claims again without being woken."""
        return _POSTGRES_POLL if self.postgres and self.listening else _SQLITE_POLL

    def signal(self) -> asyncio.Event:
        """The event the next :meth:`notify` sets. Take it BEFORE claiming, so a task created
        between the claim and the wait still wakes the waiter."""
        return self._event

    def notify(self) -> None:
        """Wake every waiter."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    def notify_at(self, delay: float) -> None:
        """Wake every waiter ``delay`` seconds from now (a retry's ``run_after``)."""
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self.notify()

        handle = loop.call_later(max(delay, 0.0), fire)
        self._timers.add(handle)

    def start(self) -> None:
        """On PostgreSQL, start listening for ``NOTIFY taskqueue_runnable``."""
        if self.postgres and self._listener is None:
            self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        import asyncpg  # type: ignore[import-untyped]  # the postgres extra

        url = make_url(self._engine.url).set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)

        def woken(*_: Any) -> None:
            self.notify()

        while True:
            conn: Any = None
            try:
                conn = await asyncpg.connect(dsn)
                await conn.add_listener(NOTIFY_CHANNEL, woken)
                self.listening = True
                self.notify()  # anything committed while not listening
                closed = asyncio.Event()
                conn.add_termination_listener(_setter(closed))
                await closed.wait()
                _log.warning("wakeup listener connection closed; reconnecting")
            except (OSError, asyncpg.PostgresError) as exc:
                _log.warning("wakeup listener cannot connect; retrying", error=str(exc))
            finally:
                self.listening = False
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
                        await conn.close(timeout=2)
            await asyncio.sleep(_RECONNECT)

    async def close(self) -> None:
        """Stop listening and wake every waiter so long polls answer now."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self.notify()


def _setter(event: asyncio.Event) -> Any:
    """A listener callback that sets ``event``."""

    def callback(*_: Any) -> None:
        event.set()

    return callback
