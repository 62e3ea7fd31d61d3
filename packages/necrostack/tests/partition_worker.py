"""A worker on a partitioned stream, recording ``<key> <seq>`` of each event it handles.

Usage: ``python partition_worker.py STREAM_URL RECORD_URL STREAM RECORD_KEY UNTIL_IDLE``.
``NECROSTACK_PARTITIONS``, ``NECROSTACK_CLUSTER`` and the other settings come from the
environment; the record list lives on the plain Redis at ``RECORD_URL``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import ClassVar

from redis.asyncio import Redis

from necrostack import Event, Organ, Spine
from necrostack.backends.redis import RedisBackend
from platform_core.redis import RedisSettings, create_redis


class Record(Organ):
    """Appends the event's key and sequence number to a Redis list, in handling order."""

    listens_to: ClassVar[list[str]] = ["WORK"]

    def __init__(self, client: Redis, key: str) -> None:
        super().__init__()
        self.client, self.key = client, key

    async def handle(self, event: Event) -> None:
        await self.client.rpush(self.key, f"{event.key} {event.payload['seq']}")


async def main(url: str, record_url: str, stream: str, key: str, until_idle: float) -> None:
    record = create_redis(RedisSettings(url=record_url))
    backend = RedisBackend(redis_settings=RedisSettings(url=url), stream=stream)
    try:
        await Spine([Record(record, key)], backend, max_steps=10**9).run(until_idle=until_idle)
    finally:
        await backend.close()
        await record.aclose()


if __name__ == "__main__":
    a = sys.argv
    asyncio.run(main(a[1], a[2], a[3], a[4], float(a[5])))
