"""RedisCache on real Redis: keys, TTL, corrupt values, and failing open while Redis is down."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from activity_store import ActivityStore
from activity_store.backends.memory import MemoryBackend
from activity_store.caches.redis import RedisCache
from platform_core.redis import RedisSettings, create_redis
from platform_core.testing import PrivateRedis

NOTE = {"id": "https://example.org/notes/1", "type": "Note", "content": "hello"}


def _events(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if isinstance(r.msg, dict) and r.msg["event"] == event]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = create_redis(RedisSettings(url=redis_url))
    yield redis
    await redis.aclose()


@pytest.fixture
def cache(client: Redis, redis_key_prefix: str) -> RedisCache:
    return RedisCache(client, namespace=f"{redis_key_prefix}as", ttl=60)


async def test_objects_are_json_under_namespace_and_id_with_ttl(
    cache: RedisCache, client: Redis, redis_key_prefix: str
) -> None:
    await cache.set(NOTE["id"], NOTE)
    key = f"{redis_key_prefix}as:{NOTE['id']}"
    assert json.loads(await client.get(key)) == NOTE
    assert 0 < await client.pttl(key) <= 60_000
    assert await cache.get(NOTE["id"]) == NOTE
    await cache.delete(NOTE["id"])
    assert await client.exists(key) == 0
    assert await cache.get(NOTE["id"]) is None


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
async def test_a_corrupt_value_is_deleted_and_read_from_the_backend(
    cache: RedisCache,
    client: Redis,
    redis_key_prefix: str,
    caplog: pytest.LogCaptureFixture,
    raw: bytes,
) -> None:
    backend = MemoryBackend()
    await backend.put(NOTE)
    store = ActivityStore(backend, cache, namespace="t")
    key = f"{redis_key_prefix}as:{NOTE['id']}"
    await client.set(key, raw)
    with caplog.at_level(logging.WARNING):
        assert await store.dereference(NOTE["id"]) == NOTE
    assert _events(caplog, "activity_store.cache.corrupt")
    assert json.loads(await client.get(key)) == NOTE  # refilled from the backend


async def test_store_keeps_working_while_redis_is_down_and_recovers(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    settings = RedisSettings(
        url=private_redis.url, retry_attempts=1, connect_timeout=1, socket_timeout=1
    )
    client = create_redis(settings)
    cache = RedisCache(client, namespace="as", ttl=600, owns_client=True)
    backend = MemoryBackend()
    async with ActivityStore(backend, cache, namespace="as") as store:
        await store.store(NOTE)
        assert (await cache.get(NOTE["id"]) or {}).get("content") == "hello"

        private_redis.stop(save=True)  # on restart its old copy of NOTE is back from disk
        with caplog.at_level(logging.INFO):
            updated = {**NOTE, "content": "written while redis was down"}
            await store.store(updated)
            assert (await store.dereference(NOTE["id"]))["content"] == updated["content"]
            other = {"id": "https://example.org/notes/2", "type": "Note"}
            await store.store(other)
            assert (await store.dereference(other["id"]))["id"] == other["id"]
            page = await store.query(text="redis")
            assert [item["id"] for item in page["items"]] == [NOTE["id"]]
        warnings = _events(caplog, "activity_store.cache.unavailable")
        assert len(warnings) == 1  # one warning per outage, not one per call
        assert warnings[0].levelno == logging.WARNING

        private_redis.start()  # the old copy of NOTE is back on disk in Redis
        caplog.clear()
        with caplog.at_level(logging.INFO):
            got = await store.dereference(NOTE["id"])
        assert got["content"] == "written while redis was down"  # the stale copy was deleted
        assert _events(caplog, "activity_store.cache.recovered")
        assert await cache.get(NOTE["id"]) == got  # and the cache is filled again


async def test_store_many_fills_the_cache_in_one_go(
    cache: RedisCache, client: Redis, redis_key_prefix: str
) -> None:
    notes = [{"id": f"https://example.org/notes/{i}", "type": "Note"} for i in range(50)]
    async with ActivityStore(MemoryBackend(), cache, namespace="t") as store:
        await store.store_many(notes)
    keys = [f"{redis_key_prefix}as:{note['id']}" for note in notes]
    values = await client.mget(keys)
    assert [json.loads(value)["id"] for value in values] == [note["id"] for note in notes]
    assert 0 < await client.pttl(keys[-1]) <= 60_000


async def test_entries_can_have_their_own_ttl(
    cache: RedisCache, client: Redis, redis_key_prefix: str
) -> None:
    async with ActivityStore(MemoryBackend(), cache, namespace="t") as store:
        await store.store(NOTE, cache_ttl=5)
        await store.store_many([{**NOTE, "id": "https://example.org/notes/2"}], cache_ttl=500)
    assert 0 < await client.pttl(f"{redis_key_prefix}as:{NOTE['id']}") <= 5_000
    assert await client.pttl(f"{redis_key_prefix}as:https://example.org/notes/2") > 60_000
    with pytest.raises(ValueError, match="ttl"):
        await cache.set(NOTE["id"], NOTE, ttl=-1)


async def test_teardown_deletes_the_namespace_only_when_asked(
    client: Redis, redis_key_prefix: str
) -> None:
    mine = RedisCache(client, namespace=f"{redis_key_prefix}mine")
    other = RedisCache(client, namespace=f"{redis_key_prefix}other")
    notes = [{"id": f"https://example.org/notes/{i}", "type": "Note"} for i in range(1500)]
    await mine.set_many(notes)
    await other.set(NOTE["id"], NOTE)
    await mine.teardown()
    assert await mine.get(notes[0]["id"]) is not None
    await mine.teardown(delete_data=True)
    assert await client.keys(f"{redis_key_prefix}mine:*") == []
    assert await other.get(NOTE["id"]) == NOTE
