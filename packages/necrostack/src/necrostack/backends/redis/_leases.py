"""Partition leases: each partition is read by one consumer of the group at a time.

Every consumer heartbeats into a sorted set of members; each takes about
``ceil(partitions / members)`` partitions by ``SET owner NX PX``, renews them while it lives
and gives extras back (once it holds nothing of them) when more consumers join. A consumer
that dies stops renewing, so its leases expire after ``lease_ms`` and the survivors take its
partitions, claiming first what it left pending. One reader per partition at a time is what
keeps the order of events with the same key.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from necrostack.backends.redis._scripts import RELEASE_LEASE, RENEW_LEASE
from necrostack.backends.redis._state import PartState
from platform_core.logging import get_logger

__all__ = ["LeaseKeeper"]

_log = get_logger("necrostack.backends.redis")


class LeaseKeeper:
    """Takes, renews and gives back this consumer's partition leases.

    Args:
        client: The Redis (or Redis Cluster) client.
        parts: The partitions' states, updated in place.
        consumer: This consumer's name.
        members_key: The sorted set of live consumers.
        lease_ms: How long a lease lives without renewal.
    """

    def __init__(
        self,
        client: Any,
        parts: Sequence[PartState],
        consumer: str,
        members_key: str,
        lease_ms: int,
    ) -> None:
        self.client = client
        self.parts = parts
        self.consumer = consumer
        self.members_key = members_key
        self.lease_ms = lease_ms
        self._renew = client.register_script(RENEW_LEASE)
        self._release = client.register_script(RELEASE_LEASE)
        self._start = zlib.crc32(consumer.encode()) % len(parts)

    async def balance(
        self,
        busy: Callable[[PartState], bool],
        flush: Callable[[], Awaitable[None]],
        lost: Callable[[PartState], None],
    ) -> None:
        """Heartbeat, renew held leases, give back extras and take free partitions.

        Args:
            busy: Whether this consumer still holds entries of a partition.
            flush: Sends pending acks (before a lease is given back).
            lost: Called for a partition whose lease another consumer now holds.
        """
        client, me = self.client, self.consumer
        now_ms = int(time.time() * 1000)
        await client.zadd(self.members_key, {me: now_ms})
        await client.zremrangebyscore(self.members_key, "-inf", now_ms - self.lease_ms)
        alive = max(1, int(await client.zcard(self.members_key)))
        target = math.ceil(len(self.parts) / alive)
        for part in self.parts:
            if part.owned and not await self._renew(
                keys=[part.keys.owner], args=[me, self.lease_ms]
            ):
                _log.error("partition lease lost", stream=part.keys.stream, consumer=me)
                part.owned = part.releasing = False
                lost(part)
        keeping = [p for p in self.parts if p.owned and not p.releasing]
        releasing = [p for p in self.parts if p.releasing]
        while len(keeping) < target and releasing:
            part = releasing.pop()
            part.releasing = False
            keeping.append(part)
        for part in keeping[target:]:
            part.releasing = True
            releasing.append(part)
        if any(p.to_ack for p in releasing):
            await flush()
        for part in releasing:
            if not busy(part):
                await self._release(keys=[part.keys.owner], args=[me])
                part.owned = part.releasing = False
                _log.info("partition lease given back", stream=part.keys.stream, consumer=me)
        need = target - len(keeping[:target])
        n = len(self.parts)
        for k in range(n):
            if need <= 0:
                break
            part = self.parts[(self._start + k) % n]
            if part.owned:
                continue
            if await client.set(part.keys.owner, me, nx=True, px=self.lease_ms):
                part.owned, part.fresh, part.recover = True, True, True
                need -= 1
                _log.info("partition lease taken", stream=part.keys.stream, consumer=me)

    async def release_all(self) -> None:
        """Give back every lease this consumer holds (at close)."""
        await self.client.zrem(self.members_key, self.consumer)
        for part in self.parts:
            if part.owned:
                await self._release(keys=[part.keys.owner], args=[self.consumer])
                part.owned = part.releasing = False
