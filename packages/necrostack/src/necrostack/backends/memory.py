"""An in-process backend on a deque: FIFO, no services, nothing survives exit."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from necrostack._tracing import PROVIDER_SLOT, active_tracer, publishing
from necrostack.backends._hooks import notify_dead_letter
from necrostack.backends.base import (
    DEFAULT_MAX_EVENT_BYTES,
    DeadLetter,
    DeadLetterHook,
    NackOutcome,
)
from necrostack.errors import BackendFullError, EventTooLargeError
from necrostack.event import TRACEPARENT, Event
from platform_core.logging import get_logger

__all__ = ["DeadLetter", "InMemoryBackend", "check_event_size"]


def check_event_size(event: Event, limit: int) -> int | None:
    """Raise :class:`EventTooLargeError` when ``event`` is over ``limit`` bytes as JSON.

    Serialises only when the bound computed when the event was built does not settle it.

    Returns:
        The exact size when it had to be measured, else ``None``.
    """
    private = event.__pydantic_private__  # read directly: BaseModel.__getattr__ is slow
    bound = private.get("_size_bound") if private else None
    if bound is not None and bound <= limit:
        return None
    size = len(event.__pydantic_serializer__.to_json(event))
    if size > limit:
        raise EventTooLargeError(event.id, size, limit)
    return size


_log = get_logger("necrostack.backends.memory")


class InMemoryBackend:
    """FIFO queue in memory, bounded; failed events are retried at the back of the queue.

    Events sit in a :class:`collections.deque`; a :meth:`pull` that finds it empty parks on a
    future that :meth:`enqueue` resolves. This is the bookkeeping of an unbounded
    :class:`asyncio.Queue` without its ``join``/``task_done`` accounting, which nothing here
    uses, so handing out a waiting event costs a ``popleft``.

    Args:
        max_deliveries: Deliveries (first one included) before a failing event is moved to
            :attr:`dead_letters`.
        on_dead_letter: Awaited with each :class:`DeadLetter` once it is recorded.
        maxsize: Most events waiting at once. An :meth:`enqueue` into a full queue waits up
            to ``full_timeout`` seconds for room, then raises :class:`BackendFullError`
            (retries of nacked events are always taken back).
        full_timeout: See ``maxsize``.
        max_event_bytes: Largest event, as JSON, that :meth:`enqueue` accepts (1 MiB by
            default, the same as Redis): the memory backend refuses what Redis would.
    """

    def __init__(
        self,
        max_deliveries: int = 3,
        *,
        on_dead_letter: DeadLetterHook | None = None,
        maxsize: int = 100_000,
        full_timeout: float = 5.0,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        if max_event_bytes < 1:
            raise ValueError(f"max_event_bytes must be at least 1, got {max_event_bytes}")
        self.maxsize = maxsize
        self.full_timeout = full_timeout
        self.max_event_bytes = max_event_bytes
        self._room: asyncio.Event | None = None
        self.max_deliveries = max_deliveries
        self.on_dead_letter = on_dead_letter
        self.dead_letters: list[DeadLetter] = []
        self._events: deque[Event] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._failures: dict[str, int] = {}
        # What an ack has to clear (the failure counts): while it is empty, the Spine skips
        # the ack of a handled event (see Backend).
        self.ack_work = self._failures

    async def enqueue(self, event: Event) -> None:
        """Append ``event`` to the queue (in a publish span when tracing is on).

        Raises:
            EventTooLargeError: the event is over ``max_event_bytes`` as JSON.
            BackendFullError: the queue stayed full for ``full_timeout`` seconds.
        """
        try:  # the bound set when the event was built, read directly (no __getattr__ hook)
            if event.__pydantic_private__["_size_bound"] > self.max_event_bytes:  # type: ignore[index]
                check_event_size(event, self.max_event_bytes)
        except (TypeError, KeyError):  # no bound: the event was not built through validation
            check_event_size(event, self.max_event_bytes)
        events = self._events
        if len(events) >= self.maxsize:
            await self._wait_for_room()
        if PROVIDER_SLOT._TRACER_PROVIDER is None:  # no tracer provider: no call to ask
            events.append(event)
        elif (tracer := active_tracer()) is not None and TRACEPARENT not in event.metadata:
            with publishing(tracer, event) as stamped:
                events.append(stamped)
        else:
            events.append(event)
        if self._waiters:
            self._wake_one()

    async def pull(self, timeout: float = 1.0) -> Event | None:  # noqa: ASYNC109 - protocol API
        """Return the oldest event, or ``None`` after ``timeout`` seconds without one."""
        if self._events:
            event = self._events.popleft()
            if self._room is not None:
                self._made_room()
            return event
        if timeout <= 0:
            return None
        try:
            async with asyncio.timeout(timeout):
                return await self._wait_for_event()
        except TimeoutError:
            return None

    def pull_nowait(self) -> Event | None:
        """The oldest event if one waits, else ``None`` (no coroutine: the Spine's shortcut)."""
        events = self._events
        if not events:
            return None
        event = events.popleft()
        if self._room is not None:
            self._made_room()
        return event

    def ack_nowait(self, event: Event) -> bool:
        """:meth:`ack` without a coroutine (the Spine's shortcut); always done."""
        if self._failures:
            self._failures.pop(event.id, None)
        return True

    async def _wait_for_room(self) -> None:
        try:
            async with asyncio.timeout(self.full_timeout):
                while len(self._events) >= self.maxsize:
                    if self._room is None:
                        self._room = asyncio.Event()
                    await self._room.wait()
        except TimeoutError:
            raise BackendFullError(
                f"the in-memory queue stayed full ({self.maxsize} events) for "
                f"{self.full_timeout:g}s; raise maxsize or consume faster"
            ) from None

    def _made_room(self) -> None:
        room = self._room
        if room is not None and len(self._events) < self.maxsize:
            self._room = None
            room.set()

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
        event = events.popleft()
        if self._room is not None:
            self._made_room()
        return event

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

    async def nack(self, event: Event, error: BaseException) -> NackOutcome:
        """Requeue ``event`` at the back, or dead-letter it after ``max_deliveries`` (and then
        await ``on_dead_letter``).

        Returns:
            ``"retry"`` or ``"dead_letter"``.
        """
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
            return "dead_letter"
        self._failures[event.id] = deliveries
        self._events.append(event)
        if self._waiters:
            self._wake_one()
        return "retry"

    async def dead_letter(self, event: Event, reason: str) -> None:
        """Give up on ``event`` (handed out by :meth:`pull`) at once, e.g. an unknown type."""
        deliveries = self._failures.pop(event.id, 0) + 1
        dead = DeadLetter(event, reason, deliveries)
        self.dead_letters.append(dead)
        _log.warning(
            "event dead-lettered", event_id=event.id, event_type=event.event_type, error=reason
        )
        await notify_dead_letter(self.on_dead_letter, dead)

    def health_snapshot(self) -> dict[str, object]:
        """The queue's state: always ``ok``, with its size and dead letters."""
        return {
            "status": "ok",
            "backend": "memory",
            "queued": len(self._events),
            "maxsize": self.maxsize,
            "dead_letters": len(self.dead_letters),
        }

    async def health(self) -> dict[str, object]:
        """See :meth:`health_snapshot`."""
        return self.health_snapshot()

    def qsize(self) -> int:
        """How many events wait in the queue."""
        return len(self._events)

    async def close(self) -> None:
        """Nothing to release; present for the :class:`~necrostack.Backend` protocol."""
