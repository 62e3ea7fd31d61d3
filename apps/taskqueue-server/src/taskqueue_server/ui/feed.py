"""The console's live feed: every task event, per tenant, read by every open dashboard.

The webhook backend is a work queue (each event goes to one consumer), so the console keeps
its own broadcast: :class:`MemoryFeed` within one process (no Redis), :class:`RedisFeed` as
one Redis stream per tenant (``{prefix}ui:{tenant}``) when ``TASKQUEUE_REDIS_URL`` is set, so
an event published by any API process reaches dashboards served by any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from necrostack import Event

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["ConsoleFeed", "MemoryFeed", "RedisFeed"]

_KEEP = 1000
_QUEUE = 1000


class ConsoleFeed(Protocol):
    """Publishes a tenant's events and streams them to subscribers."""

    async def publish(self, event: Event, tenant: str) -> None:
        """Hand ``event`` to every subscriber of ``tenant``."""
        ...

    def subscribe(self, tenant: str, wait: float) -> AsyncIterator[Event | None]:
        """The tenant's events from now on; None after ``wait`` seconds without one."""
        ...


class MemoryFeed:
    """Subscribers in this process: one bounded queue each (a slow reader loses the oldest
    events rather than holding up publishers)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = {}

    async def publish(self, event: Event, tenant: str) -> None:
        """Put ``event`` on each of the tenant's subscriber queues."""
        for queue in list(self._subscribers.get(tenant, ())):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):  # drop the oldest
                    queue.get_nowait()
            queue.put_nowait(event)

    async def subscribe(self, tenant: str, wait: float) -> AsyncIterator[Event | None]:
        """Yield the tenant's events; None when ``wait`` seconds pass without one."""
        queue: asyncio.Queue[Event] = asyncio.Queue(_QUEUE)
        self._subscribers.setdefault(tenant, set()).add(queue)
        try:
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), wait)
                except TimeoutError:
                    yield None
        finally:
            subscribers = self._subscribers.get(tenant)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[tenant]


class RedisFeed:
    """One Redis stream per tenant, trimmed to about 1,000 entries.

    Args:
        client: The server's Redis client.
        prefix: The server's Redis key prefix.
    """

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def _key(self, tenant: str) -> str:
        return f"{self._prefix}ui:{tenant}"

    async def publish(self, event: Event, tenant: str) -> None:
        """XADD the event to the tenant's stream."""
        await self._client.xadd(
            self._key(tenant), {"e": event.model_dump_json()}, maxlen=_KEEP, approximate=True
        )

    async def subscribe(self, tenant: str, wait: float) -> AsyncIterator[Event | None]:
        """XREAD the tenant's stream from now on, blocking up to ``wait`` seconds at a time."""
        key = self._key(tenant)
        newest = await self._client.xrevrange(key, count=1)
        last: Any = newest[0][0] if newest else "0-0"
        while True:
            answer = await self._client.xread({key: last}, block=int(wait * 1000), count=100)
            if not answer:
                yield None
                continue
            for _stream, entries in answer:
                for entry_id, fields in entries:
                    last = entry_id
                    raw = fields.get(b"e", fields.get("e"))
                    yield Event.model_validate(json.loads(raw))
