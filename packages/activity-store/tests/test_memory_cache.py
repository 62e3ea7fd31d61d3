"""MemoryCache: TTL expiry (per entry), read-only copies, size bound and teardown."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from activity_store import thaw
from activity_store.caches.memory import MemoryCache

OBJ = {"id": "https://example.org/1", "type": "Note", "to": ["a"]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_entries_expire_after_the_ttl_and_are_dropped() -> None:
    clock = Clock()
    cache = MemoryCache(ttl=10, clock=clock)
    await cache.set(OBJ["id"], OBJ)
    clock.now += 9.9
    assert await cache.get(OBJ["id"]) == OBJ
    clock.now += 0.2
    assert await cache.get(OBJ["id"]) is None
    assert len(cache) == 0


def test_default_ttl_is_one_hour() -> None:
    assert MemoryCache().ttl == 3600


async def test_cached_values_are_read_only_copies() -> None:
    cache = MemoryCache()
    obj = {**OBJ, "to": ["a"]}
    await cache.set(obj["id"], obj)
    obj["to"].append("b")
    got = await cache.get(obj["id"])
    assert got is not None
    assert got["to"] == ["a"]
    with pytest.raises(TypeError, match="read-only"):
        got["to"].append("c")
    with pytest.raises(TypeError, match="read-only"):
        got["name"] = "changed"
    with pytest.raises(TypeError, match="read-only"):
        got.pop("to")
    assert (await cache.get(obj["id"])) == {**OBJ, "to": ["a"]}
    # A copy is an ordinary, changeable dict; it serialises like one too.
    for copied in (thaw(got), copy.deepcopy(got)):
        copied["to"].append("c")
        assert type(copied) is dict
        assert type(copied["to"]) is list
        assert copied["to"] == ["a", "c"]
    assert json.loads(json.dumps(got)) == {**OBJ, "to": ["a"]}
    assert pickle.loads(pickle.dumps(got)) == got
    assert (await cache.get(obj["id"]))["to"] == ["a"]  # type: ignore[index]


async def test_entries_can_have_their_own_ttl() -> None:
    clock = Clock()
    cache = MemoryCache(ttl=10, clock=clock)
    await cache.set("short", OBJ, ttl=1)
    await cache.set("long", OBJ, ttl=100)
    await cache.set("default", OBJ)
    clock.now += 5
    assert await cache.get("short") is None
    assert await cache.get("default") == OBJ
    clock.now += 50
    assert await cache.get("default") is None
    assert await cache.get("long") == OBJ
    with pytest.raises(ValueError, match="ttl"):
        await cache.set("bad", OBJ, ttl=0)


async def test_teardown_deletes_entries_only_when_asked() -> None:
    cache = MemoryCache()
    await cache.set("a", OBJ)
    await cache.teardown()
    assert await cache.get("a") == OBJ
    await cache.teardown(delete_data=True)
    assert await cache.get("a") is None


async def test_full_cache_drops_expired_then_oldest() -> None:
    clock = Clock()
    cache = MemoryCache(ttl=10, maxsize=2, clock=clock)
    await cache.set("old", OBJ)
    clock.now += 11
    await cache.set("a", OBJ)
    await cache.set("b", OBJ)  # "old" has expired and makes room
    assert await cache.get("a") == OBJ
    await cache.set("c", OBJ)  # full of live entries: the oldest ("a") goes
    assert await cache.get("a") is None
    assert await cache.get("b") == OBJ
    assert await cache.get("c") == OBJ


async def test_delete() -> None:
    cache = MemoryCache()
    await cache.set("a", OBJ)
    await cache.delete("a")
    await cache.delete("missing")
    assert await cache.get("a") is None


def test_rejects_non_positive_ttl() -> None:
    with pytest.raises(ValueError, match="ttl"):
        MemoryCache(ttl=0)
