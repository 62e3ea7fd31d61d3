"""necrostack: in-memory dispatch vs a bare asyncio.Queue loop; Redis end to end vs FastStream's
Redis stream subscriber and vs a raw redis-py loop; produce-to-handle latency at 5,000 events/s.

Every Redis case runs one worker in this process against the same Redis, with the same
payload, producing in pipelined chunks of 100 through its own publishing API, and waits until
the handler has seen every event of the round.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from benchmarks.harness import Case, Harness
from necrostack import Event, InMemoryBackend, Organ, Spine
from necrostack.backends.redis import RedisBackend
from platform_core.redis import RedisSettings
from platform_core.testing.services import find_redis

PAYLOAD = {"n": 0, "body": "x" * 100}
CHUNK = 100
RATE = 5_000  # events per second for the latency figure


class Counter:
    """Counts handled events and wakes the round when its target is reached."""

    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.done = asyncio.Event()
        self.latencies: list[float] | None = None

    def reset(self, target: int) -> None:
        self.count, self.target = 0, target
        self.done.clear()

    def hit(self, sent_at: float | None = None) -> None:
        if self.latencies is not None and sent_at is not None:
            self.latencies.append(time.perf_counter() - sent_at)
        self.count += 1
        if self.count >= self.target:
            self.done.set()


# --- in memory -----------------------------------------------------------------------


class Noop(Organ):
    listens_to: ClassVar[list[str]] = ["NOOP"]

    async def handle(self, event: Event) -> None:
        return None


async def bench_memory(h: Harness) -> None:
    events = [Event(event_type="NOOP", payload=PAYLOAD) for _ in range(20_000)]
    backend = InMemoryBackend()
    spine = Spine([Noop()], backend, max_steps=10**12)

    async def necro(n: int) -> None:
        for e in events[:n]:
            await backend.enqueue(e)
        await spine.run(until_idle=0)

    def noop(event: Event) -> None:
        return None

    routes = {"NOOP": [noop]}

    async def floor(n: int) -> None:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        for e in events[:n]:
            queue.put_nowait(e)
        while not queue.empty():
            event = queue.get_nowait()
            for handler in routes.get(event.event_type, ()):
                handler(event)

    await h.compare(
        "in-memory dispatch of no-op events",
        Case("necrostack Spine + InMemoryBackend", necro),
        Case("bare asyncio.Queue loop (floor)", floor),
        ops=20_000,
        rounds=7,
        max_ratio=1 / 0.7,
        goal="ratio <= 1.43 (>= 70% of the floor's events/s)",
    )


# --- Redis ---------------------------------------------------------------------------


class Worker:
    """One side of the Redis comparison: start, produce n events, stop."""

    async def start(self) -> None: ...
    async def produce(self, n: int, sent_at: float) -> None: ...
    async def stop(self) -> None: ...


class NecroWorker(Worker):
    def __init__(self, url: str, stream: str, counter: Counter) -> None:
        settings = RedisSettings(url=url)
        self.producer = RedisBackend(redis_settings=settings, stream=stream)
        self.consumer = RedisBackend(redis_settings=settings, stream=stream, batch_size=CHUNK)
        counter_ref = counter

        class Count(Organ):
            listens_to: ClassVar[list[str]] = ["BENCH"]

            async def handle(self, event: Event) -> None:
                counter_ref.hit(event.payload.get("t"))

        self.spine = Spine([Count()], self.consumer, max_steps=10**12, poll_timeout=0.1)
        self.task: asyncio.Task[int] | None = None

    async def start(self) -> None:
        await self.producer.enqueue_many([])
        await self.consumer.pull(0)  # creates the group before anything is produced
        self.task = asyncio.create_task(self.spine.run())

    async def produce(self, n: int, sent_at: float) -> None:
        payload = {**PAYLOAD, "t": sent_at}
        for start in range(0, n, CHUNK):
            await self.producer.enqueue_many(
                Event(event_type="BENCH", payload=payload) for _ in range(min(CHUNK, n - start))
            )

    async def stop(self) -> None:
        self.spine.stop()
        if self.task is not None:
            await self.task
        await self.consumer.close()
        await self.producer.close()


class FastStreamWorker(Worker):
    def __init__(self, url: str, stream: str, counter: Counter) -> None:
        from faststream.redis import RedisBroker, StreamSub
        from redis.asyncio import Redis

        self.stream = stream
        self.broker = RedisBroker(url, logger=None)
        self.client = Redis.from_url(url)

        @self.broker.subscriber(
            stream=StreamSub(stream, group="bench", consumer="c1", max_records=CHUNK)
        )
        async def handle(msg: dict[str, Any]) -> None:
            counter.hit(msg.get("t"))

    async def start(self) -> None:
        await self.broker.start()

    async def produce(self, n: int, sent_at: float) -> None:
        payload = {**PAYLOAD, "t": sent_at}
        for start in range(0, n, CHUNK):
            async with self.client.pipeline(transaction=False) as pipe:
                for _ in range(min(CHUNK, n - start)):
                    await self.broker.publish(payload, stream=self.stream, pipeline=pipe)
                await pipe.execute()

    async def stop(self) -> None:
        await self.broker.stop()
        await self.client.aclose()


class RawWorker(Worker):
    """The floor: pipelined XADD, XREADGROUP COUNT 100, json.loads, batched XACK."""

    def __init__(self, url: str, stream: str, counter: Counter) -> None:
        from redis.asyncio import Redis

        self.client = Redis.from_url(url)
        self.stream = stream
        self.counter = counter
        self.running = True
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.xgroup_create(self.stream, "bench", id="0", mkstream=True)
        self.task = asyncio.create_task(self.loop())

    async def loop(self) -> None:
        while self.running:
            reply = await self.client.xreadgroup(
                "bench", "c1", {self.stream: ">"}, count=CHUNK, block=100
            )
            for _, entries in reply or []:
                ids = []
                for eid, fields in entries:
                    self.counter.hit(json.loads(fields[b"data"]).get("t"))
                    ids.append(eid)
                await self.client.xack(self.stream, "bench", *ids)

    async def produce(self, n: int, sent_at: float) -> None:
        data = json.dumps({**PAYLOAD, "t": sent_at})
        for start in range(0, n, CHUNK):
            async with self.client.pipeline(transaction=False) as pipe:
                for _ in range(min(CHUNK, n - start)):
                    pipe.xadd(self.stream, {"data": data})
                await pipe.execute()

    async def stop(self) -> None:
        self.running = False
        if self.task is not None:
            await self.task
        await self.client.aclose()


def end_to_end(worker: Worker, counter: Counter) -> Callable[[int], Awaitable[None]]:
    async def run(n: int) -> None:
        counter.reset(n)
        await worker.produce(n, time.perf_counter())
        await asyncio.wait_for(counter.done.wait(), 120)

    return run


async def latency_at_rate(worker: Worker, counter: Counter, seconds: float) -> list[float]:
    """Produce RATE events/s in 10 ms ticks for ``seconds``; return produce-to-handle times."""
    tick, per_tick = 0.01, int(RATE * 0.01)
    ticks = int(seconds / tick)
    counter.latencies = []
    counter.reset(ticks * per_tick)
    start = time.perf_counter()
    for i in range(ticks):
        await worker.produce(per_tick, time.perf_counter())
        delay = start + (i + 1) * tick - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.wait_for(counter.done.wait(), 60)
    found, counter.latencies = counter.latencies, None
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_redis(h: Harness) -> None:
    service = find_redis()
    url = service.url
    prefix = f"bench:necrostack:{uuid.uuid4().hex[:8]}:"
    made: dict[str, tuple[Worker, Counter]] = {}
    factories: dict[str, Callable[[str, str, Counter], Worker]] = {
        "necro": NecroWorker,
        "faststream": FastStreamWorker,
        "raw": RawWorker,
    }
    try:
        for name, factory in factories.items():
            counter = Counter()
            worker = factory(url, f"{prefix}{name}", counter)
            await worker.start()
            made[name] = (worker, counter)
        ops = 5_000
        necro_row = await h.compare(
            "Redis end to end, one worker (enqueue -> consume -> handler -> ack)",
            Case("necrostack RedisBackend", end_to_end(*made["necro"])),
            Case("FastStream Redis stream subscriber", end_to_end(*made["faststream"])),
            ops=ops,
            rounds=5,
            max_ratio=1 / 1.5,
            goal="ratio <= 0.667 (>= 1.5x FastStream's events/s)",
        )
        await h.compare(
            "Redis end to end, one worker (enqueue -> consume -> handler -> ack)",
            Case("necrostack RedisBackend", end_to_end(*made["necro"])),
            Case("raw redis-py loop (floor)", end_to_end(*made["raw"])),
            ops=ops,
            rounds=5,
            max_ratio=1 / 0.7,
            goal="ratio <= 1.43 (>= 70% of the floor's events/s)",
        )
        h.figure(
            "necrostack sustained end-to-end throughput, one worker",
            f"{1 / necro_row.candidate_s:,.0f} events/s",
            "from the median above; producer and worker share one process and event loop",
        )
        seconds = 0.5 if h.quick else 3.0
        for name, label in (("necro", "necrostack"), ("faststream", "FastStream")):
            lat = await latency_at_rate(*made[name], seconds)
            p50, p99 = statistics.median(lat) * 1e3, percentile(lat, 0.99) * 1e3
            load = os.getloadavg()[0]
            h.figure(
                f"{label} produce-to-handle latency at {RATE:,} events/s",
                f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
                f"{len(lat):,} events over {seconds:g} s, one worker, producer in the same "
                f"process, 10 ms ticks; load average {load:.1f} on {os.cpu_count()} cores "
                "(when the worker cannot sustain the rate, this is queueing time)",
            )
    finally:
        for worker, _ in made.values():
            await worker.stop()
        from redis.asyncio import Redis

        client = Redis.from_url(url)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        service.stop()


# --- partitions on a Redis Cluster ----------------------------------------------------------

CLUSTER_WORKER = """
import asyncio, sys
from typing import ClassVar
from necrostack import Event, Organ, Spine
from necrostack.backends.redis import RedisBackend
from platform_core.redis import RedisSettings

class Nothing(Organ):
    listens_to: ClassVar[list[str]] = ["BENCH"]
    async def handle(self, event: Event) -> None:
        return None

async def main(url: str, stream: str, partitions: int) -> None:
    backend = RedisBackend(redis_settings=RedisSettings(url=url), stream=stream, cluster=True,
                           partitions=partitions, batch_size=100, claim_idle_ms=2000)
    try:
        await Spine([Nothing()], backend, max_steps=10**12, poll_timeout=0.1).run(
            handle_signals=True)
    finally:
        await backend.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def _cluster_round(url: str, partitions: int, total: int) -> tuple[float, float]:
    """Events/s of two worker processes draining ``total`` events produced meanwhile, and
    the seconds the producing took."""
    import signal
    import sys

    from necrostack.backends.redis import StreamAdmin

    stream = f"bench{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-c", CLUSTER_WORKER, url, stream, str(partitions)]
    quiet = asyncio.subprocess.DEVNULL
    workers = [
        await asyncio.create_subprocess_exec(*command, stdout=quiet, stderr=quiet) for _ in range(2)
    ]
    producer = RedisBackend(
        redis_settings=RedisSettings(url=url), stream=stream, cluster=True, partitions=partitions
    )
    admin = StreamAdmin(producer.client, producer.settings)
    owners = [p.keys.owner for p in producer.parts]
    try:
        deadline = time.monotonic() + 120
        while True:  # both workers are up and have split the partitions evenly
            held = collections.Counter([await producer.client.get(k) for k in owners])
            even = max(held.values()) <= -(-partitions // 2)
            if None not in held and len(held) == min(2, partitions) and even:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster workers did not take their partitions")
            await asyncio.sleep(0.1)
        payload = dict(PAYLOAD)
        # Batches of CHUNK events per partition: a batch costs one script call per stream it
        # touches, so with a fixed batch the producer (in this process, on the same cores)
        # bounded the figure as partitions were added, not the workers.
        step = CHUNK * partitions
        started = time.perf_counter()
        for start in range(0, total, step):
            await producer.enqueue_many(
                Event(event_type="BENCH", key=str(n), payload=payload)
                for n in range(start, min(total, start + step))
            )
        produced = time.perf_counter() - started
        drained_by = time.monotonic() + 300
        while True:
            stats = await admin.stats()
            if stats.length >= total and stats.lag == 0 and stats.pending == 0:
                break
            if time.monotonic() > drained_by:  # fail instead of hanging the whole run
                raise RuntimeError(
                    f"{partitions} partition(s): not drained after 300 s "
                    f"(length {stats.length}, lag {stats.lag}, pending {stats.pending})"
                )
            await asyncio.sleep(0.01)
        return total / (time.perf_counter() - started), produced
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                await asyncio.wait_for(w.wait(), 20)
            except TimeoutError:
                w.kill()
                await w.wait()
        for part in producer.parts:
            await producer.client.delete(part.keys.stream, part.keys.dead, part.keys.retry)
        await producer.close()


async def bench_partitions(h: Harness) -> None:
    from platform_core.testing import find_redis_cluster

    service = find_redis_cluster()
    total = 2_000 if h.quick else 20_000
    try:
        for partitions in (1, 3, 6):
            rate, produced = await _cluster_round(service.url, partitions, total)
            h.figure(
                f"necrostack on a 3-master Redis Cluster, {partitions} partition(s)",
                f"{rate:,.0f} events/s",
                f"{total:,} events produced from this process (batches of {CHUNK} x the "
                f"partitions, {produced:.2f} s) while 2 worker processes handle them (no-op "
                "async organ), once they have split the partitions evenly; one worker reads a "
                f"partition at a time, so {min(2, partitions)} worker(s) share the work; load "
                "average "
                f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
            )
    finally:
        service.stop()


async def main(h: Harness) -> None:
    """Run the in-memory, the Redis and the Redis Cluster partition benchmarks."""
    await bench_memory(h)
    await bench_redis(h)
    await bench_partitions(h)
