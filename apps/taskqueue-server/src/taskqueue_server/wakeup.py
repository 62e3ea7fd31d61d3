"""Wake long-polling claims when a task may have become runnable.

A claim with ``wait`` that finds nothing waits on :class:`Wakeup` and tries again when woken.
Within one process every change that can make a task runnable (a task entering ``Pending``,
or a completion some task waits on) wakes the waiters at once, and a retry held back until
``run_after`` wakes them when that time comes. On PostgreSQL a trigger (migration 0005) sends
``NOTIFY taskqueue_runnable`` at the commit of such a change, and one
``LISTEN`` connection per server process wakes its waiters, so a task created through any
process is picked up in milliseconds. Waiters also re-check every ``poll_interval`` seconds
(short on SQLite, where nothing crosses processes; long on PostgreSQL, as a safety net).

No thundering herd: a change in this process wakes as many waiters as tasks became runnable
(one new task wakes one idle worker's claim, not all of them). Notifications from other
processes wake every waiter (they do not say how many tasks); the trigger sends the
connection's ``application_name`` (unique per server process, see
:func:`taskqueue_server.db.engine.create_engine`) so a process ignores its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

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
    """Wakes waiting claims: :meth:`waiter` is taken before a claim, awaited after it.

    Args:
        engine: The server's engine; on PostgreSQL :meth:`start` listens for notifications.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._listener: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self.listening = False
        self.postgres = engine.dialect.name == "postgresql"
        self.name = ""  # this process's application_name, read when listening starts

    @property
    def poll_interval(self) -> float:
        """Seconds a waiter sleeps at most before it claims again without being woken."""
        return _POSTGRES_POLL if self.postgres and self.listening else _SQLITE_POLL

    def waiter(self) -> asyncio.Future[None]:
        """A future a later :meth:`notify` resolves. Take it BEFORE claiming, so a task
        created between the claim and the wait still wakes the waiter; :meth:`discard` it
        after."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        return future

    def discard(self, future: asyncio.Future[None]) -> None:
        """Forget a waiter. If it was woken but did not need it (its claim found tasks
        anyway), the wakeup goes to the next waiter."""
        if future.done():
            if not future.cancelled():
                self.notify(1)
            return
        future.cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(future)

    def notify(self, count: int | None = None) -> None:
        """Wake ``count`` waiters, oldest first (every waiter when None)."""
        left = len(self._waiters) if count is None else count
        while left > 0 and self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)
                left -= 1

    def notify_at(self, delay: float) -> None:
        """Wake one waiter ``delay`` seconds from now (a retry's ``run_after``)."""
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self.notify(1)

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

        def woken(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            if payload != self.name:  # this process already woke its own waiters
                self.notify()

        while True:
            conn: Any = None
            try:
                async with self._engine.connect() as pooled:
                    self.name = str(
                        await pooled.scalar(text("SELECT current_setting('application_name')"))
                    )
                conn = await asyncpg.connect(dsn)
                await conn.add_listener(NOTIFY_CHANNEL, woken)
                self.listening = True
                self.notify()  # anything committed while not listening
                closed = asyncio.Event()
                conn.add_termination_listener(_setter(closed))
                await closed.wait()
                _log.warning("wakeup listener connection closed; reconnecting")
            except (OSError, asyncpg.PostgresError, DBAPIError) as exc:
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
