"""Claim renewal runs on a thread of its own: an ``async def`` handler that blocks its event
loop keeps its claims (and partition leases), so its event is not run twice."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from typing import Any, ClassVar

import pytest

from necrostack import Event, Organ, Spine
from necrostack.backends.redis import RedisBackend
from necrostack.backends.redis._renewer import sync_twin
from platform_core.redis import RedisSettings, create_redis

from .conftest import eventually

SECONDS = 3.0  # each blocking handler holds its loop twice the reclaim idle time
# 1.5 s, as the two-process test: with 0.5 s, a loaded CI run (four test workers on two
# cores, a private three-node cluster) once let the partition leases lapse before the
# renewal thread's cluster client had connected, and both events ran twice.
IDLE_MS = 1500


class Blocker(Organ):
    """An ``async def`` handler that blocks the loop (the mistake the thread survives)."""

    listens_to: ClassVar[list[str]] = ["WORK"]

    def __init__(self, seen: list[tuple[str, int]], tag: str, seconds: float) -> None:
        super().__init__()
        self.seen, self.tag, self.seconds = seen, tag, seconds

    async def handle(self, event: Event) -> None:
        self.seen.append((self.tag, event.payload["n"]))
        time.sleep(self.seconds)  # noqa: ASYNC251 - blocking the loop is the point


def _in_a_thread(settings: dict[str, Any], seen: list[tuple[str, int]], count: int) -> Any:
    """Run the blocking consumer on a loop of its own, in a thread, until it is idle."""

    async def main() -> None:
        backend = RedisBackend(consumer="blocked", **settings)
        try:
            for n in range(count):
                await backend.enqueue(Event(event_type="WORK", payload={"n": n}))
            spine = Spine([Blocker(seen, "blocked", SECONDS)], backend, poll_timeout=0.05)
            await spine.run(until_idle=0.5)
        finally:
            await backend.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),))
    thread.start()
    return thread


async def _race(settings: dict[str, Any], count: int) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    thread = _in_a_thread(settings, seen, count)
    await eventually(lambda: asyncio.sleep(0, bool(seen)))  # the blocked one has its events
    eager = RedisBackend(consumer="eager", **settings)
    try:
        # The other consumer polls (and reclaims whatever is idle past IDLE_MS) for as long
        # as the blocked one works.
        spine = Spine([Blocker(seen, "eager", 0)], eager, poll_timeout=0.05)
        task = asyncio.create_task(spine.run())
        await asyncio.to_thread(thread.join, 30)
        spine.stop()
        await task
    finally:
        await eager.close()
    assert not thread.is_alive()
    return seen


async def test_a_handler_blocking_its_loop_keeps_its_claims(
    redis_url: str, redis_key_prefix: str
) -> None:
    settings = {
        "redis_settings": RedisSettings(url=redis_url),
        "stream": f"{redis_key_prefix}blocked",
        "claim_idle_ms": IDLE_MS,
    }
    seen = await _race(settings, 2)
    assert Counter(n for _, n in seen) == {0: 1, 1: 1}, seen
    assert {tag for tag, _ in seen} == {"blocked"}


async def test_a_handler_blocking_its_loop_keeps_its_partitions_on_a_cluster(
    redis_cluster_url: str,
) -> None:
    settings = {
        "redis_settings": RedisSettings(url=redis_cluster_url),
        "cluster": True,
        "partitions": 2,
        "stream": f"t{uuid.uuid4().hex[:10]}",
        "claim_idle_ms": IDLE_MS,  # also the partition leases' lifetime
    }
    seen = await _race(settings, 2)
    assert Counter(n for _, n in seen) == {0: 1, 1: 1}, seen


async def test_the_thread_ends_with_the_loop_of_a_backend_never_closed(
    redis_url: str, redis_key_prefix: str
) -> None:
    made: list[RedisBackend] = []

    async def pull_and_forget() -> None:
        client = create_redis(RedisSettings(url=redis_url))  # the caller's: closed by it
        backend = RedisBackend(
            client=client, stream=f"{redis_key_prefix}forgotten", claim_idle_ms=200
        )
        made.append(backend)
        await backend.pull(0.05)
        await client.aclose()

    await asyncio.to_thread(asyncio.run, pull_and_forget())
    renewer = made[0]._renewer
    assert renewer is not None
    await asyncio.to_thread(renewer._thread.join, 2)
    assert not renewer._thread.is_alive()


async def test_the_twin_connection_keeps_the_client_s_settings(redis_url: str) -> None:
    client = create_redis(RedisSettings(url=redis_url, socket_timeout=7))
    twin = sync_twin(client)
    try:
        kwargs = twin.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == 7
        assert kwargs["db"] == client.connection_pool.connection_kwargs.get("db", 0)
        assert twin.ping()
    finally:
        twin.close()
        await client.aclose()


def test_a_client_of_another_kind_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="object"):
        sync_twin(object())
