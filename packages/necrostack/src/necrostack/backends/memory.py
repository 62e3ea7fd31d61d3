"""An in-process backend on :class:`asyncio.Queue`: FIFO, no services, nothing survives exit."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from necrostack.event import Event
from platform_core.logging import get_logger

__all__ = ["DeadLetter", "InMemoryBackend"]

_log = get_logger("necrostack.backends.memory")


@dataclass(frozen=True)
class DeadLetter:
    """An event given up on after its last failed delivery.

    Attributes:
        event: The event.
        error: ``repr`` of the last exception.
        deliveries: How many times it was delivered.
    """

    event: Event
    error: str
    deliveries: int


class InMemoryBackend:
    """FIFO queue in memory; failed events are retried at the back of the queue.

    Args:
        max_deliveries: Deliveries (first one included) before a failing event is moved to
            :attr:`dead_letters`.
    """

    def __init__(self, max_deliveries: int = 3) -> None:
        if max_deliveries < 1:
            raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
        self.max_deliveries = max_deliveries
        self.dead_letters: list[DeadLetter] = []
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._failures: dict[str, int] = {}

    async def enqueue(self, event: Event) -> None:
        """Append ``event`` to the queue."""
        self._queue.put_nowait(event)

    async def pull(self, timeout: float = 1.0) -> Event | None:  # noqa: ASYNC109 - protocol API
        """Return the oldest event, or ``None`` after ``timeout`` seconds without one."""
        if self._queue.qsize():
            return self._queue.get_nowait()
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    async def ack(self, event: Event) -> None:
        """Forget ``event``'s failure count; nothing else to do in memory."""
        if self._failures:
            self._failures.pop(event.id, None)

    async def nack(self, event: Event, error: BaseException) -> None:
        """Requeue ``event`` at the back, or dead-letter it after ``max_deliveries``."""
        deliveries = self._failures.get(event.id, 0) + 1
        if deliveries >= self.max_deliveries:
            self._failures.pop(event.id, None)
            self.dead_letters.append(DeadLetter(event, repr(error), deliveries))
            _log.warning(
                "event dead-lettered",
                event_id=event.id,
                event_type=event.event_type,
                deliveries=deliveries,
                error=repr(error),
            )
            return
        self._failures[event.id] = deliveries
        self._queue.put_nowait(event)

    def qsize(self) -> int:
        """How many events wait in the queue."""
        return self._queue.qsize()

    async def close(self) -> None:
        """Nothing to release; present for the :class:`~necrostack.Backend` protocol."""
