"""activity_store: cache hits against cachetools and raw Redis, bulk stores against async_bulk."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from cachetools import TTLCache
from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import async_bulk

from activity_store import ActivityStore
from activity_store._copy import json_copy
from activity_store.backends.elasticsearch import ElasticsearchBackend
from activity_store.backends.memory import MemoryBackend
from activity_store.caches.memory import MemoryCache
from activity_store.caches.redis import RedisCache
from activity_store.ld import ensure_context
from benchmarks.harness import Case, Harness
from platform_core.redis import RedisSettings, create_redis
from platform_core.testing.services import find_elasticsearch, find_redis

NOTE: dict[str, Any] = ensure_context(
    {
        "id": "https://social.example/notes/1",
        "type": "Note",
        "attributedTo": "https://social.example/users/ada",
        "name": "Engine notes",
        "content": "<p>The Analytical Engine weaves algebraic patterns</p>",
        "published": "2024-03-01T10:15:00Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "tag": [{"type": "Hashtag", "name": "#engines"}],
    }
)


async def _memory_hit(h: Harness) -> None:
    store = ActivityStore(MemoryBackend(), MemoryCache(), namespace="bench")
    await store.store(NOTE)
    peer: TTLCache[str, dict[str, Any]] = TTLCache(maxsize=100_000, ttl=3600)
    peer[NOTE["id"]] = NOTE

    async def peer_get(key: str) -> dict[str, Any]:
        return peer[key]

    async def ours(n: int) -> None:
        for _ in range(n):
            await store.dereference(NOTE["id"])

    async def theirs(n: int) -> None:
        for _ in range(n):
            await peer_get(NOTE["id"])

    await h.compare(
        "cache-hit dereference, memory",
        Case("ActivityStore memory cache", ours),
        Case("cachetools.TTLCache in async fn", theirs),
        ops=20_000,
        max_ratio=3,
        goal="ratio <= 3 (ours returns a private copy; TTLCache the shared dict)",
    )
    start = time.perf_counter()
    for _ in range(20_000):
        json_copy(NOTE)
    copy_us = (time.perf_counter() - start) / 20_000 * 1e6
    h.figure(
        "memory cache: cost of the private copy per hit",
        f"{copy_us:.2f} µs",
        "deep copy of the benchmark Note, included in the memory cache-hit time above",
    )


async def _redis_hit(h: Harness) -> None:
    service = find_redis()
    prefix = f"bench:{uuid.uuid4().hex[:8]}"
    client = create_redis(RedisSettings(url=service.url))
    try:
        cache = RedisCache(client, namespace=prefix)
        store = ActivityStore(MemoryBackend(), cache, namespace=prefix)
        await store.store(NOTE)
        key = cache.key(NOTE["id"])

        async def ours(n: int) -> None:
            for _ in range(n):
                await store.dereference(NOTE["id"])

        async def raw(n: int) -> None:
            for _ in range(n):
                json.loads(await client.get(key))

        await h.compare(
            "cache-hit dereference, Redis",
            Case("ActivityStore redis cache", ours),
            Case("redis.asyncio GET + json.loads", raw),
            ops=2000,
            max_ratio=1.3,
        )
        await client.delete(key)
    finally:
        await client.aclose()
        service.stop()


async def _es_bulk(h: Harness) -> None:
    service = find_elasticsearch()
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    client = AsyncElasticsearch(service.url, request_timeout=120)
    backend = ElasticsearchBackend(client, namespace=namespace)
    peer_index = f"{namespace}-peer"
    try:
        store = ActivityStore(backend, MemoryCache(), namespace=namespace)
        await store.setup()
        await client.indices.create(index=peer_index)
        rounds = {"ours": 0, "theirs": 0}

        def docs(side: str, n: int) -> list[dict[str, Any]]:
            rounds[side] += 1
            return [
                ensure_context(
                    {
                        "id": f"https://social.example/{side}/{rounds[side]}/{i}",
                        "type": "Note",
                        "name": f"small note {i}",
                        "published": "2024-03-01T10:15:00Z",
                    }
                )
                for i in range(n)
            ]

        async def ours(n: int) -> None:
            await store.store_many(docs("ours", n))

        async def theirs(n: int) -> None:
            actions = (
                {"_index": peer_index, "_id": d["id"], "_source": d} for d in docs("theirs", n)
            )
            await async_bulk(client, actions, chunk_size=n, refresh="wait_for")

        await h.compare(
            "store_many of 10,000 small objects, Elasticsearch",
            Case("ActivityStore.store_many", ours),
            Case("helpers.async_bulk (refresh=wait_for)", theirs),
            ops=10_000,
            rounds=3,
            max_ratio=1.3,
        )
    finally:
        await backend.delete_indices()
        await client.options(ignore_status=404).indices.delete(index=peer_index)
        await client.close()
        service.stop()


async def main(h: Harness) -> None:
    """Run the three comparisons the activity-store issue sets goals for."""
    await _memory_hit(h)
    await _redis_hit(h)
    await _es_bulk(h)
