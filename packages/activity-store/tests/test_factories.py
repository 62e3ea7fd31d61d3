"""Choosing backends and caches by setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from activity_store import ActivityStore
from activity_store.backends.elasticsearch import ElasticsearchBackend
from activity_store.backends.memory import MemoryBackend
from activity_store.caches.memory import MemoryCache
from activity_store.caches.redis import RedisCache
from platform_core.errors import ConfigurationError, MissingExtraError, PluginNotFoundError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ACTIVITY_STORE_BACKEND",
        "ACTIVITY_STORE_CACHE",
        "ACTIVITY_STORE_NAMESPACE",
        "ACTIVITY_STORE_CACHE_TTL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_memory() -> None:
    store = ActivityStore()
    assert isinstance(store.backend, MemoryBackend)
    assert isinstance(store.cache, MemoryCache)
    assert store.namespace == "activity_store"
    assert store.cache.ttl == 3600


async def test_elasticsearch_and_redis_by_setting(
    monkeypatch: pytest.MonkeyPatch,
    elasticsearch_url: str,
    es_index_prefix: str,
    redis_url: str,
) -> None:
    monkeypatch.setenv("ACTIVITY_STORE_BACKEND", "elasticsearch")
    monkeypatch.setenv("ACTIVITY_STORE_CACHE", "redis")
    monkeypatch.setenv("ACTIVITY_STORE_NAMESPACE", f"{es_index_prefix}fact")
    monkeypatch.setenv("ACTIVITY_STORE_CACHE_TTL", "120")
    monkeypatch.setenv("ES_URL", elasticsearch_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    async with ActivityStore() as store:
        assert isinstance(store.backend, ElasticsearchBackend)
        assert store.backend.objects_index == f"{es_index_prefix}fact-objects"
        assert isinstance(store.cache, RedisCache)
        assert store.cache.key("x") == f"{es_index_prefix}fact:x"
        assert store.cache.ttl_ms == 120_000
        note = {"id": "https://example.org/n", "type": "Note", "name": "factory made"}
        await store.store(note)
        assert (await store.dereference(note["id"]))["name"] == "factory made"
        await store.cache.delete(note["id"])  # leave nothing outside the test's prefixes


def test_unknown_backend_lists_the_installed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIVITY_STORE_BACKEND", "cassandra")
    with pytest.raises(PluginNotFoundError, match="ACTIVITY_STORE_BACKEND") as info:
        ActivityStore()
    assert "elasticsearch" in str(info.value)
    assert "memory" in str(info.value)


def test_unknown_cache_is_an_error_not_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIVITY_STORE_CACHE", "memcached")
    with pytest.raises(PluginNotFoundError, match="ACTIVITY_STORE_CACHE"):
        ActivityStore()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACTIVITY_STORE_NAMESPACE", "Bad Name"),
        ("ACTIVITY_STORE_CACHE_TTL", "-1"),
        ("ES_URL", "localhost:9200"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("ACTIVITY_STORE_BACKEND", "elasticsearch")
    with pytest.raises(ConfigurationError, match=name):
        ActivityStore()


def test_missing_extra_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "elasticsearch", None)  # as if the extra were absent
    monkeypatch.delitem(sys.modules, "activity_store.backends.elasticsearch", raising=False)
    monkeypatch.setenv("ACTIVITY_STORE_BACKEND", "elasticsearch")
    with pytest.raises(MissingExtraError, match=r"activity-store\[es\]"):
        ActivityStore()


def test_importing_the_package_needs_no_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['elasticsearch'] = None\n"
        "sys.modules['redis'] = None\n"
        "import asyncio\n"
        "from activity_store import ActivityStore\n"
        "async def main():\n"
        "    async with ActivityStore() as store:\n"
        "        await store.store({'id': 'https://example.org/1', 'type': 'Note'})\n"
        "        print((await store.query())['totalItems'])\n"
        "asyncio.run(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVITY_STORE_")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
