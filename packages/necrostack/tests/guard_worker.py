"""A worker process with a blocking handler, for the run-once and SIGTERM tests.

Usage: ``python guard_worker.py REDIS_URL STREAM RECORD_KEY HANDLER_SECONDS SHUTDOWN_TIMEOUT
[async]``. The handler (a plain ``def``; with ``async``, an ``async def`` that blocks the
event loop all the same) records ``start <n> <pid>`` and ``end <n> <pid>`` in a Redis list around a
``time.sleep``. ``NECROSTACK_*`` settings come from the environment. The worker runs until
SIGTERM, then exits 0 (after closing the backend); it prints ``ready`` once consuming.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import ClassVar

import redis

from necrostack import Event, Organ, Spine
from necrostack.backends.redis import RedisBackend
from platform_core.redis import RedisSettings


class Slow(Organ):
    """Blocks its thread for ``seconds`` (a plain ``def``, as in the README's quickstart)."""

    listens_to: ClassVar[list[str]] = ["WORK"]

    def __init__(self, client: redis.Redis, key: str, seconds: float) -> None:
        super().__init__()
        self.client, self.key, self.seconds = client, key, seconds

    def handle(self, event: Event) -> None:
        n = event.payload["n"]
        self.client.rpush(self.key, f"start {n} {os.getpid()}")
        time.sleep(self.seconds)
        self.client.rpush(self.key, f"end {n} {os.getpid()}")


class BlockingAsync(Slow):
    """The same work in an ``async def``: it blocks the event loop (a handler's mistake)."""

    async def handle(self, event: Event) -> None:  # type: ignore[override]
        super().handle(event)


async def main(url: str, stream: str, key: str, seconds: float, grace: float, kind: str) -> None:
    client = redis.Redis.from_url(url)
    backend = RedisBackend(redis_settings=RedisSettings(url=url), stream=stream)
    organ = (BlockingAsync if kind == "async" else Slow)(client, key, seconds)
    spine = Spine(
        [organ], backend, max_steps=10**9, shutdown_timeout=grace,
        poll_timeout=0.1,
    )  # fmt: skip
    print("ready", flush=True)
    try:
        await spine.run(handle_signals=True)
    finally:
        await backend.close()
        client.close()


if __name__ == "__main__":
    a = sys.argv
    asyncio.run(main(a[1], a[2], a[3], float(a[4]), float(a[5]), a[6] if len(a) > 6 else "def"))
