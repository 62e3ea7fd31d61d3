"""An in-process backend on a deque: FIFO, no services, nothing survives exit."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from necrostack._tracing import active_tracer, publishing
from necrostack.backends._hooks import notify_dead_letter
from necrostack.backends.base import DeadLetter, DeadLetterHook
from necrostack.event import TRACEPARENT, Event
from platform_core.logging import get_logger

__all__ = ["DeadLetter", "InMemoryBackend"]

_log = get_logger("necrostack.backends.memory")


class InMemoryBackend:
    """FIFO queue in memory; failed events are retried at the back of the queue.

    Events sit in a :class:`collections.deque`; a :meth:`pull` that finds it empty parks on a
    future that :meth:`enqueue` resolves. This is the bookkeeping of an unbounded
    :class:`asyncio.Queue` without its ``join``/``task_done`` accounting, which nothing here
    uses, so handing out a waiting event costs a ``popleft``.

    Args:
        max_deliveries: Deliveries (first one included) before a failing event is moved to
            :attr:`dead_letters`.
        on_dead_letter: Awaited with each :class:`DeadLetter` once it is recorded.
    """

    def __init__(
        self, max_deliveries: int = 3, *, on_dead_letter: DeadLetterHook | None = None
    ) -> None:
        if max_deliveries < 1:
            raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
        self.max_deliveries = max_deliveries
        self.on_dead_letter = on_dead_letter
        self.dead_letters: list[DeadLetter] = []
        self._events: deque[Event] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._failures: dict[str, int] = {}

    async def enqueue(self, event: Event) -> None:
        """Append ``event`` to the queue (in a publish span when tracing is on)."""
        if (tracer := active_tracer()) is not None and TRACEPARENT not in event.metadata:
            with publishing(tracer, event) as stamped:
                self._events.append(stamped)
        else:
            self._events.append(event)
        if self._waiters:
            self._wake_one()

    async def pull(self, timeout: float = 1.0) -> Event | None:  # noqa: ASYNC109 - protocol API
        """Return the oldest event, or ``None`` after ``timeout`` seconds without one."""
        if self._events:
            return self._events.popleft()
        if timeout <= 0:
            return None
        try:
            async with asyncio.timeout(timeout):
                return await self._wait_for_event()
        except TimeoutError:
            return None

    async def _wait_for_event(self) -> Event:
        events = self._events
        while not events:  # a woken waiter may find the event taken by a non-waiting pull
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                waiter.cancel()  # no-op when it was already woken
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                if events and not waiter.cancelled():
                    # Woken, then cancelled (e.g. timed out) before taking the event: hand
                    # the wake-up on so no other waiter sleeps past an event in the queue.
                    self._wake_one()
                raise
        return events.popleft()

    def _wake_one(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def ack(self, event: Event) -> None:
        """Forget ``event``'s failure count; nothing else to do in memory."""
        if self._failures:
            self._failures.pop(event.id, None)

    async def nack(self, event: Event, error: BaseException) -> None:
        """Requeue ``event`` at the back, or dead-letter it after ``max_deliveries`` (and then
        await ``on_dead_letter``)."""
        deliveries = self._failures.get(event.id, 0) + 1
        if deliveries >= self.max_deliveries:
            self._failures.pop(event.id, None)
            dead = DeadLetter(event, repr(error), deliveries)
            self.dead_letters.append(dead)
            _log.warning(
                "event dead-lettered",
                event_id=event.id,
                event_type=event.event_type,
                deliveries=deliveries,
                error=repr(error),
            )
            await notify_dead_letter(self.on_dead_letter, dead)
            return
        self._failures[event.id] = deliveries
        self._events.append(event)
        if self._waiters:
            self._wake_one()

    def qsize(self) -> int:
        """How many events wait in the queue."""
        return len(self._events)

    async def close(self) -> None:
        """Nothing to release; present for the :class:`~necrostack.Backend` protocol."""
