"""Partitioned streams on a single Redis and on a Redis Cluster: per-key order, shared
partitions, per-partition dead letters and stats, and a SIGKILL on the cluster."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from redis.asyncio import Redis

from necrostack import Event
from necrostack.backends.redis import RedisBackend, StreamAdmin
from platform_core.redis import RedisSettings

from .conftest import MakeBackend, eventually
from .test_strict_events import events, same_event

WORKER = Path(__file__).with_name("partition_worker.py")


async def _drain(backend: RedisBackend, seconds: float = 1.0) -> list[Event]:
    got = []
    while (event := await backend.pull(seconds)) is not None:
        got.append(event)
        await backend.ack(event)
    return got


async def test_same_key_same_partition_in_order(make_backend: MakeBackend) -> None:
    producer = make_backend(partitions=4)
    sent = [Event(event_type="W", key=f"k{n % 7}", payload={"n": n}) for n in range(70)]
    await producer.enqueue_many(sent)
    got = await _drain(make_backend(partitions=4))
    assert sorted(e.payload["n"] for e in got) == list(range(70))
    for k in range(7):
        mine = [e.payload["n"] for e in got if e.key == f"k{k}"]
        assert mine == sorted(mine)  # per-key order


async def test_consumers_of_a_group_share_the_partitions(make_backend: MakeBackend) -> None:
    # Leases of 1.5 s: with 300 ms, an event loop held up that long on a loaded machine lost
    # a lease mid-drain, and its pending entries were (rightly, at-least-once) delivered twice.
    first = make_backend(partitions=4, claim_idle_ms=1500)
    second = make_backend(partitions=4, claim_idle_ms=1500)
    assert await first.pull(0) is None  # takes all four: it is alone
    assert await second.pull(0) is None  # joins; none is free yet

    async def split() -> bool:
        await first.pull(0.05)
        await second.pull(0.05)
        mine = first.health_snapshot()["owned_partitions"]
        theirs = second.health_snapshot()["owned_partitions"]
        return len(mine) == 2 and len(theirs) == 2 and not set(mine) & set(theirs)

    await eventually(split, seconds=10)
    await first.enqueue_many(Event(event_type="W", payload={"n": n}) for n in range(40))
    a, b = await asyncio.gather(_drain(first), _drain(second))
    assert a
    assert b
    assert sorted(e.payload["n"] for e in a + b) == list(range(40))
    await second.close()  # gives its leases back: the first takes every partition

    async def all_mine() -> bool:
        await first.pull(0.05)
        return len(first.health_snapshot()["owned_partitions"]) == 4

    await eventually(all_mine, seconds=10)


async def test_dead_letters_replay_and_stats_per_partition(make_backend: MakeBackend) -> None:
    backend = make_backend(partitions=3, max_deliveries=1)
    await backend.enqueue_many(Event(event_type="W", key=f"k{n}") for n in range(6))
    for _ in range(6):
        event = await backend.pull(1)
        assert event is not None
        await backend.nack(event, RuntimeError("no"))
    admin = StreamAdmin(backend.client, backend.settings)  # the stream name holds the prefix
    stats = await admin.stats()
    assert stats.dead_letters == 6
    assert [p.partition for p in stats.partitions] == [0, 1, 2]
    assert sum(p.dead_letters for p in stats.partitions) == 6
    assert [(g.group, g.pending) for g in stats.groups] == [(backend.group, 0)]
    dead = await admin.dead_letters()
    one = dead[0]
    assert await admin.replay([f"{one.partition}/{one.id}"]) == (1, [])
    again = await backend.pull(1)
    assert again is not None
    assert again.id == Event.model_validate_json(one.event).id
    assert (await admin.stats()).dead_letters == 5


# --- Redis Cluster -------------------------------------------------------------------------

MakeCluster = Callable[..., RedisBackend]


@pytest.fixture
async def make_cluster_backend(redis_cluster_url: str) -> AsyncIterator[MakeCluster]:
    """RedisBackends on a fresh stream of the session's Redis Cluster; keys deleted after."""
    made: list[RedisBackend] = []
    stream = f"t{uuid.uuid4().hex[:10]}"

    def make(**overrides: Any) -> RedisBackend:
        overrides.setdefault("stream", stream)
        overrides.setdefault("retry_backoff_base", 0.01)
        backend = RedisBackend(
            redis_settings=RedisSettings(url=redis_cluster_url), cluster=True, **overrides
        )
        made.append(backend)
        return backend

    yield make
    cleaner = RedisBackend(
        redis_settings=RedisSettings(url=redis_cluster_url), cluster=True, stream=stream
    )
    for backend in made:
        await backend.close()
    for backend in made:
        for part in backend.parts:
            for key in (part.keys.stream, part.keys.dead, part.keys.retry, part.keys.owner):
                await cleaner.client.delete(key)
    await cleaner.close()


async def test_partitions_land_on_different_shards(make_cluster_backend: MakeCluster) -> None:
    backend = make_cluster_backend(partitions=6)
    await backend.client.initialize()  # loads the slot map
    nodes = [backend.client.get_node_from_key(p.keys.stream).port for p in backend.parts]
    assert len(set(nodes)) == 3  # three masters
    assert all(nodes.count(n) == 2 for n in set(nodes))  # two partitions each


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=events)
async def test_exact_round_trip_on_a_redis_cluster(
    make_cluster_backend: MakeCluster, event: Event
) -> None:
    backend = make_cluster_backend(partitions=3, retry_backoff_base=0.001)
    try:
        await backend.enqueue(event)
        got = await backend.pull(2)
        assert got is not None
        assert same_event(got, event)
        await backend.nack(got, RuntimeError("again"))  # through the retry schedule (Lua)
        again = await backend.pull(2)
        assert again is not None
        assert same_event(again, event)
        await backend.ack(again)
    finally:
        await backend.close()  # gives the partition leases back to the next example


TOTAL, KEYS = 10_000, 100


def _spawn(cluster_url: str, record_url: str, stream: str, key: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NECROSTACK_PARTITIONS": "6",
        "NECROSTACK_CLUSTER": "1",
        "NECROSTACK_CLAIM_IDLE_MS": "1000",
        "NECROSTACK_BATCH_SIZE": "100",
    }
    return subprocess.Popen(
        [sys.executable, str(WORKER), cluster_url, record_url, stream, key, "5"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.slow
async def test_sigkill_on_the_cluster_loses_nothing_and_keeps_per_key_order(
    make_cluster_backend: MakeCluster,
    redis_cluster_url: str,
    redis_url: str,
    redis_key_prefix: str,
    redis_client: Redis,
    record_property: pytest.RecordProperty,
) -> None:
    producer = make_cluster_backend(partitions=6)
    assert await producer.pull(0) is None  # creates the groups
    for start in range(0, TOTAL, 1000):
        await producer.enqueue_many(
            Event(event_type="WORK", key=f"k{n % KEYS}", payload={"seq": n // KEYS})
            for n in range(start, start + 1000)
        )
    await producer.close()  # gives its partition leases back
    record = f"{redis_key_prefix}record"
    workers = [_spawn(redis_cluster_url, redis_url, producer.settings.stream, record)
               for _ in range(2)]  # fmt: skip
    try:

        async def halfway() -> bool:
            for w in workers:
                if w.poll() is not None:
                    pytest.fail(f"worker exited early: {w.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            return int(await redis_client.llen(record)) >= TOTAL // 2

        await eventually(halfway, seconds=180)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        at_kill = int(await redis_client.llen(record))
        _, err = await asyncio.to_thread(workers[1].communicate, None, 180)
        assert workers[1].returncode == 0, err.decode()[-2000:]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
            if w.stderr is not None:
                w.stderr.close()
    assert at_kill < TOTAL, "the workers finished before one could be killed"
    handled: dict[str, list[int]] = defaultdict(list)
    count = 0
    for raw in await redis_client.lrange(record, 0, -1):
        key, seq = raw.decode().split()
        handled[key].append(int(seq))
        count += 1
    record_property("duplicates", count - TOTAL)
    assert sorted(handled) == sorted(f"k{k}" for k in range(KEYS))
    for key, seqs in handled.items():
        first_runs = list(dict.fromkeys(seqs))
        # None lost, and no event of a key ran (the first time) before an earlier one.
        assert first_runs == list(range(TOTAL // KEYS)), key
    checker = make_cluster_backend(partitions=6)
    admin = StreamAdmin(checker.client, checker.settings)
    assert (await admin.stats()).pending == 0


async def test_an_entry_left_pending_under_an_earlier_owner_is_reclaimed(
    make_backend: MakeBackend, redis_client: Redis
) -> None:
    # A read of the earlier owner, in flight when the lease moved, delivers entries to it
    # after the new owner has claimed the partition's leftovers; that owner drops them (it
    # no longer owns the partition) and nobody renews them. The owner takes them once idle.
    owner = make_backend(partitions=2, claim_idle_ms=300)
    assert await owner.pull(0) is None  # leases both partitions, claims their leftovers
    await owner.enqueue_many(
        Event(event_type="W", key=f"k{n}", payload={"n": n}) for n in range(10)
    )
    for part in owner.parts:
        await redis_client.xreadgroup(owner.group, "earlier-owner", {part.keys.stream: ">"})
    got = await _drain(owner, seconds=3.0)
    assert sorted(e.payload["n"] for e in got) == list(range(10))
    await owner.close()
    for part in owner.parts:
        assert (await redis_client.xpending(part.keys.stream, owner.group))["pending"] == 0


async def test_a_lease_is_not_given_back_while_a_read_of_its_partition_is_in_flight(
    make_backend: MakeBackend, redis_client: Redis
) -> None:
    # What that read delivers would be dropped by a consumer no longer owning the partition
    # and wait, pending, for the idle-time reclaim of the new owner.
    first = make_backend(partitions=2, claim_idle_ms=1500)
    second = make_backend(partitions=2, claim_idle_ms=1500)
    assert await first.pull(0) is None  # alone: takes both partitions
    assert await second.pull(0) is None  # joins: one of the two should go to it
    owners = [p.keys.owner for p in first.parts]
    reading = asyncio.create_task(first.pull(0.5))  # blocks on both partitions
    await eventually(lambda: asyncio.sleep(0, all(p.reading for p in first.parts)))
    await first._balance()  # one partition is now an extra, but a read of it is in flight
    assert [await redis_client.get(k) for k in owners] == [first.consumer.encode()] * 2
    assert await reading is None
    await first._balance()  # the read returned: the extra is given back
    held = [await redis_client.get(k) for k in owners]
    assert held.count(first.consumer.encode()) == 1
    assert sum(p.owned for p in first.parts) == 1
