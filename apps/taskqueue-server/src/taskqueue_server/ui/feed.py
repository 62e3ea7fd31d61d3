"""The console's live feed: every task event, per tenant, read by every open dashboard.

The webhook backend is a work queue (each event goes to one consumer); dashboards need a
broadcast, which is a necrostack feed (:mod:`necrostack.feeds`): a channel ``ui:{tenant}`` on
a :class:`~necrostack.MemoryFeed` within one process (no Redis), or on a
:class:`~necrostack.RedisFeed` (the stream ``{prefix}ui:{tenant}``) when
``TASKQUEUE_REDIS_URL`` is set, so an event published by any API process reaches dashboards
served by any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from necrostack import Event, Feed, MemoryFeed, RedisFeed

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["ConsoleFeed", "memory_feed", "redis_feed"]


class ConsoleFeed:
    """Publishes a tenant's events and streams them to the tenant's dashboards.

    Args:
        feed: The necrostack feed holding one channel per tenant.
    """

    def __init__(self, feed: Feed) -> None:
        self._feed = feed

    async def publish(self, event: Event, tenant: str) -> None:
        """Hand ``event`` to every reader of ``tenant`` (an event publisher's listener)."""
        await self._feed.publish(f"ui:{tenant}", event)

    async def subscribe(self, tenant: str, wait: float) -> AsyncIterator[Event | None]:
        """The tenant's events from now on; None after ``wait`` seconds without one."""
        async for entry in self._feed.watch(f"ui:{tenant}", idle=wait):
            yield None if entry is None else entry.event


def memory_feed() -> ConsoleFeed:
    """A console feed for one process (the last 1,000 events of each tenant kept)."""
    return ConsoleFeed(MemoryFeed())


def redis_feed(client: Redis, prefix: str) -> ConsoleFeed:
    """A console feed shared by every process on ``client`` (the server's, not closed here)."""
    return ConsoleFeed(RedisFeed(client, prefix, owns_client=False))
