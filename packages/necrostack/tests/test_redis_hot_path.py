"""The Redis backend's cheaper paths keep their guarantees: entries of a first delivery hold
the event only, a batch is cut into bounded calls and trimmed once, acks ride on the next
read, and retries are still promoted after Redis forgot its scripts."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from redis.asyncio import Redis

from necrostack import Event, EventTooLargeError, Organ, Spine
from platform_core.testing import PrivateRedis

from .conftest import MakeBackend


class Collect(Organ):
    listens_to: ClassVar[list[str]] = ["WORK"]

    def __init__(self, seen: list[Any]) -> None:
        super().__init__()
        self.seen = seen

    async def handle(self, event: Event) -> None:
        self.seen.append(event.payload["n"])


def work(n: int) -> Event:
    return Event(event_type="WORK", payload={"n": n})


async def test_first_deliveries_hold_the_event_only(
    make_backend: MakeBackend, redis_client: Redis
) -> None:
    backend = make_backend()
    sent = [work(1), work(2)]
    await backend.enqueue_many(sent)
    await backend.enqueue(work(3))
    entries = await redis_client.xrange(backend.stream)
    assert [sorted(fields) for _, fields in entries] == [[b"event"]] * 3
    got = [await backend.pull(1) for _ in range(3)]
    assert got[:2] == sent
    assert [e.payload["n"] for e in got if e is not None] == [1, 2, 3]


async def test_a_retry_carries_its_deliveries(make_backend: MakeBackend) -> None:
    backend = make_backend(max_deliveries=2)
    await backend.enqueue(work(1))
    first = await backend.pull(1)
    assert first is not None
    assert await backend.nack(first, RuntimeError("no")) == "retry"
    again = await backend.pull(3)
    assert again == first
    assert await backend.nack(again, RuntimeError("no")) == "dead_letter"


async def test_a_too_large_event_in_a_batch_writes_nothing(
    make_backend: MakeBackend, redis_client: Redis
) -> None:
    backend = make_backend(max_event_bytes=1000)
    big = Event(event_type="WORK", payload={"n": 0, "body": "x" * 2000})
    with pytest.raises(EventTooLargeError):
        await backend.enqueue_many([work(1), big])
    assert await redis_client.xlen(backend.stream) == 0


async def test_each_batch_is_trimmed_to_about_maxlen(
    make_backend: MakeBackend, redis_client: Redis
) -> None:
    backend = make_backend(maxlen=100, partitions=2)
    for start in range(0, 2000, 200):
        await backend.enqueue_many(work(n) for n in range(start, start + 200))
    for stream in backend.streams:
        length = await redis_client.xlen(stream)
        assert 100 <= length < 400  # XTRIM MAXLEN ~ trims whole nodes: a little above 100


async def _evals(client: Redis) -> int:
    return int((await client.info("commandstats")).get("cmdstat_eval", {}).get("calls", 0))


async def test_a_large_batch_is_cut_into_calls_by_count_and_bytes_and_keeps_its_order(
    private_redis: PrivateRedis, make_backend: MakeBackend
) -> None:
    backend = make_backend(url=private_redis.url, maxlen=0)
    client = Redis.from_url(private_redis.url)
    try:
        before = await _evals(client)
        await backend.enqueue_many(work(n) for n in range(1234))  # 500 + 500 + 234
        assert await _evals(client) - before == 3
        big = "x" * 300_000  # 14 of these pass 4 MiB: the 15th starts the second call
        before = await _evals(client)
        await backend.enqueue_many(
            Event(event_type="WORK", payload={"n": n, "body": big}) for n in range(1234, 1254)
        )
        assert await _evals(client) - before == 2
        entries = await client.xrange(backend.stream)
        assert [json.loads(f[b"event"])["payload"]["n"] for _, f in entries] == list(range(1254))
    finally:
        await client.aclose()


async def test_the_acks_of_a_spine_ride_on_its_next_read(
    make_backend: MakeBackend, redis_client: Redis
) -> None:
    """The Spine's acks of a used-up batch are sent with the read that follows, so nothing
    handled is left pending when the run ends, before close()."""
    backend = make_backend(batch_size=10)
    await backend.enqueue_many(work(n) for n in range(25))
    seen: list[int] = []
    await Spine([Collect(seen)], backend, poll_timeout=0.05).run(until_idle=0.3)
    assert sorted(seen) == list(range(25))
    assert (await redis_client.xpending(backend.stream, backend.group))["pending"] == 0


async def test_acks_left_by_a_stopped_spine_are_flushed_by_close(
    make_backend: MakeBackend, redis_client: Redis
) -> None:
    """Stopped right after the last event of its batch, the Spine leaves that batch's acks
    recorded (no read follows to carry them); close() sends them."""
    backend = make_backend(batch_size=5)
    await backend.enqueue_many(work(n) for n in range(5))
    seen: list[int] = []
    stop: list[Spine] = []

    class StopAtFive(Collect):
        async def handle(self, event: Event) -> None:
            await super().handle(event)
            if len(self.seen) == 5:
                stop[0].stop()

    spine = Spine([StopAtFive(seen)], backend, poll_timeout=0.05)
    stop.append(spine)
    await spine.run()
    assert seen == [0, 1, 2, 3, 4]
    await backend.close()
    assert (await redis_client.xpending(backend.stream, backend.group))["pending"] == 0


async def test_retries_are_promoted_after_redis_forgot_its_scripts(
    private_redis: PrivateRedis, make_backend: MakeBackend
) -> None:
    backend = make_backend(url=private_redis.url)
    await backend.enqueue(work(1))
    first = await backend.pull(1)
    assert first is not None
    assert await backend.nack(first, RuntimeError("again")) == "retry"
    admin = Redis.from_url(private_redis.url)
    try:
        await admin.script_flush()
    finally:
        await admin.aclose()
    assert await backend.pull(5) == first  # NOSCRIPT: the script is loaded, then promoted
