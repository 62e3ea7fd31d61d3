"""A worker process for the kill -9 test: handles WORK events, recording each ``n`` handled.

Usage: ``python crash_worker.py REDIS_URL STREAM HANDLED_KEY UNTIL_IDLE``. Settings such as
``NECROSTACK_CLAIM_IDLE_MS`` come from the environment.
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
    """Appends the event's number to a Redis list, the test's record of what ran."""

    listens_to: ClassVar[list[str]] = ["WORK"]

    def __init__(self, client: Redis, key: str) -> None:
        super().__init__()
        self.client = client
        self.key = key

    async def handle(self, event: Event) -> None:
        await self.client.rpush(self.key, event.payload["n"])


async def main(url: str, stream: str, handled_key: str, until_idle: float) -> None:
    settings = RedisSettings(url=url)
    client = create_redis(settings)
    backend = RedisBackend(redis_settings=settings, stream=stream)
    try:
        await Spine([Record(client, handled_key)], backend, max_steps=10**9).run(
            until_idle=until_idle
        )
    finally:
        await backend.close()
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
