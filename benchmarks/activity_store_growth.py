"""activity_store query latency as the store grows: 10,000, 100,000 and 1,000,000 objects on
PostgreSQL and Elasticsearch (part of ``bench_activity_store``).

What is timed is the queries (a text query and a collection page, p50). Loading is set-up:
PostgreSQL is loaded through ``store_many``; Elasticsearch with the very documents the
backend writes (its own ``search_fields`` / ``document_id`` / ``membership_id``) in bulk
requests of 5,000 objects, two in flight, with refresh switched off during the load and one
refresh at each step, because ``store_many`` waits for a refresh per request, which on
noida-db made loading 100,000 objects take 204 s.

The 1,000,000 step runs only on request (it loads for minutes on PostgreSQL and for tens of
minutes on noida-db on a 2-core machine): ``ACTIVITY_BENCH_MILLION=1`` on both backends,
``=postgres`` or ``=elasticsearch`` on one. Without it, a row says so, with the load time
and the server's memory extrapolated from the 100,000 step. On noida-db the load stops
early, and the row says where and why, when the machine's available memory would go below
3 GB: noida-db keeps the whole index in memory.

Measured once with this loader (2026-12-07, 2 cores, 24 GB, load average 10-15 from other
work): noida-db took 1,233 s to reach 600,000 objects, its rate falling from 1,250 objects/s
(first 10,000) to 800/s (at 100,000) and about 400/s (from 400,000 on); a refresh took 52 s
at 600,000; its RSS was 1.36 GB at 100,000, 6.8 GB at 500,000 and 10.3 GB after the refresh
at 600,000 (about 17 KB per object), when that run's own 9 GB guard stopped it. At 500,000 a
text query took 8.9 s and a collection page 3.6 s. So 1,000,000 would need some 17 GB of RAM
for noida-db alone and over 35 minutes of loading: it does not fit this shared machine.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from elasticsearch import AsyncElasticsearch

from activity_store import ActivityStore
from activity_store.backends._es_documents import document_id, membership_id, search_fields
from activity_store.backends.elasticsearch import ElasticsearchBackend
from activity_store.backends.postgres import PostgresBackend
from activity_store.ld import ensure_context, partial_member
from activity_store.testing import NoCache
from benchmarks.harness import Harness

OUTBOX = "https://social.example/users/ada/outbox"
TEXT_QUERY: dict[str, Any] = {"text": "weave item7", "size": 20}  # 1 object in 1,000 matches
PAGE_QUERY: dict[str, Any] = {"collection": OUTBOX, "sort": "published:desc", "size": 20}
_VOCAB = ("engine", "loom", "card", "pattern", "music", "algebra", "number", "weave")
_CHUNK = 5000
_MIN_AVAILABLE_KB = 3_000_000


def scale_documents(start: int, n: int) -> list[dict[str, Any]]:
    """Objects ``start`` .. ``start + n - 1`` of the growth set."""
    docs = []
    for i in range(start, start + n):
        words = " ".join(_VOCAB[(i * k) % len(_VOCAB)] for k in (1, 3, 5))
        docs.append(
            {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": f"https://social.example/notes/{i:08d}",
                "type": "Note" if i % 3 else "Article",
                "content": f"{words} item{i % 1000}",
                "published": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                "tag": [{"type": "Hashtag", "name": f"#t{i % 50}"}],
            }
        )
    return docs


def _rss_kb(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _available_kb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    raise RuntimeError("no MemAvailable in /proc/meminfo")


async def _grow_pg(store: ActivityStore, have: int, target: int) -> int:
    for start in range(have, target, _CHUNK):
        docs = scale_documents(start, min(_CHUNK, target - start))
        await store.store_many(docs)
        # every tenth object is in the outbox
        await store.backend.add_members(OUTBOX, [(partial_member(d), d) for d in docs[::10]])
    backend = store.backend
    assert isinstance(backend, PostgresBackend)
    # What autovacuum does soon after a bulk load; without statistics the planner may scan
    # by id instead of using the GIN index.
    await backend.pool.execute("ANALYZE")
    return target


def _es_operations(backend: ElasticsearchBackend, start: int, n: int) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    docs = [ensure_context(doc) for doc in scale_documents(start, n)]
    for doc in docs:
        action = {"_index": backend.objects_index, "_id": document_id(doc["id"])}
        operations.append({"index": action})
        operations.append({**search_fields(doc), "object": doc})
    for doc in docs[::10]:
        entry_id = membership_id(OUTBOX, doc["id"])
        operations.append({"index": {"_index": backend.collections_index, "_id": entry_id}})
        member = partial_member(doc)
        operations.append({**search_fields(doc), "collection": OUTBOX, "member": member})
    return operations


async def _grow_es(
    backend: ElasticsearchBackend, have: int, target: int, pid: int | None
) -> tuple[int, str]:
    """Load up to ``target``; return how far it got and why it stopped short (or "")."""
    client = backend.client
    indices = [backend.objects_index, backend.collections_index]
    await client.indices.put_settings(index=indices, settings={"index": {"refresh_interval": "-1"}})
    in_flight: set[asyncio.Task[Any]] = set()
    stopped = ""

    async def send(operations: list[dict[str, Any]]) -> None:
        response = await client.bulk(operations=operations, refresh=False)
        if response["errors"]:
            raise RuntimeError(f"bulk load refused documents: {response['items'][:1]}")

    try:
        while have < target:
            available = _available_kb()
            if pid is not None and available < _MIN_AVAILABLE_KB:
                rss = _rss_kb(pid) or 0
                stopped = (
                    f"stopped loading at {have:,}: MemAvailable {available / 1e6:.1f} GB "
                    f"< {_MIN_AVAILABLE_KB / 1e6:.0f} GB with noida-db at RSS {rss / 1e6:.1f} GB"
                )
                break
            n = min(_CHUNK, target - have)
            in_flight.add(asyncio.ensure_future(send(_es_operations(backend, have, n))))
            have += n
            if len(in_flight) >= 2:
                done, in_flight = await asyncio.wait(in_flight, return_when="FIRST_COMPLETED")
                for task in done:
                    task.result()
    finally:
        for task in in_flight:
            await task
        await client.indices.put_settings(
            index=indices, settings={"index": {"refresh_interval": None}}
        )
        await client.indices.refresh(index=indices)
    return have, stopped


async def _p50(store: ActivityStore, fields: dict[str, Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        await store.query(**fields)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _rounds(size: int) -> int:
    # At 1,000,000 a noida-db text query takes tens of seconds: fewer rounds, said in the row.
    return 15 if size <= 100_000 else 5


async def query_growth(h: Harness, pg_url: str, es_url: str, es_pid: int | None) -> None:
    """Record p50 query latency at each size on both backends (see the module docstring)."""
    asked = os.environ.get("ACTIVITY_BENCH_MILLION", "").lower()
    switch = {"PostgreSQL": "postgres", "Elasticsearch": "elasticsearch"}
    million = {label: asked in ("1", value) for label, value in switch.items()}
    sizes: tuple[int, ...] = (1000, 10_000) if h.quick else (10_000, 100_000)
    es_client = AsyncElasticsearch(es_url, request_timeout=600)
    pg = PostgresBackend(pg_url, namespace="growth", pool_size=2)
    es = ElasticsearchBackend(es_client, namespace=f"bench-growth-{uuid.uuid4().hex[:8]}")
    try:
        for label, backend in (("PostgreSQL", pg), ("Elasticsearch", es)):
            store = ActivityStore(backend, NoCache(), namespace="growth")
            await store.setup()
            have, per_object_s, rss_kb = 0, 0.0, None
            for size in (*sizes, 1_000_000) if million[label] and not h.quick else sizes:
                start = time.perf_counter()
                stopped = ""
                if isinstance(backend, PostgresBackend):
                    reached = await _grow_pg(store, have, size)
                else:
                    reached, stopped = await _grow_es(es, have, size, es_pid)
                load_s = time.perf_counter() - start
                per_object_s = load_s / max(1, reached - have)
                have = reached
                rss_kb = _rss_kb(es_pid) if backend is es else None
                rounds = _rounds(reached)
                text_ms = await _p50(store, TEXT_QUERY, rounds)
                page_ms = await _p50(store, PAGE_QUERY, rounds)
                memory = f"; noida-db RSS {rss_kb / 1e6:.2f} GB" if rss_kb else ""
                name = f"query p50 at {size:,} objects, {label}"
                if reached < size:
                    name += f" (reached {reached:,}: {stopped})"
                h.figure(
                    name,
                    f"text {text_ms:.1f} ms, collection page {page_ms:.1f} ms",
                    f"at {reached:,} objects: text={TEXT_QUERY['text']!r} size 20; outbox page "
                    f"({reached // 10:,} members) sorted by published desc, size 20; p50 of "
                    f"{rounds}; this step loaded in {load_s:.0f} s{memory}; load average "
                    f"{os.getloadavg()[0]:.1f}",
                )
                if stopped:
                    break
            if not million[label] and not h.quick:
                rest = 1_000_000 - have
                memory = (
                    f", noida-db RSS ~{rss_kb / have * 1_000_000 / 1e6:.0f} GB" if rss_kb else ""
                )
                h.figure(
                    f"query p50 at 1,000,000 objects, {label}",
                    f"not run (ACTIVITY_BENCH_MILLION=1 or ={switch[label]} runs it)",
                    "linear extrapolation from this run's last step, so a floor (load time and "
                    "memory per object grow with size: measured to 600,000 on noida-db in the "
                    f"docstring of benchmarks/activity_store_growth.py): the other {rest:,} "
                    f"~{rest * per_object_s / 60:.0f} min{memory}",
                )
    finally:
        await pg.teardown(delete_data=True)
        await es.teardown(delete_data=True)
        await es_client.close()
