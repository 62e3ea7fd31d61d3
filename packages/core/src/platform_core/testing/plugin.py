"""pytest plugin (entry point ``pytest11``) with fixtures for real Redis, PostgreSQL and
Elasticsearch.

Session fixtures find or start each server once (see :mod:`platform_core.testing.services`);
function fixtures give each test its own Redis key prefix, PostgreSQL database and
Elasticsearch index prefix, and clean them up. Without a service the test is skipped with the
reason, or fails when ``PLATFORM_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from platform_core.testing._resp import RespClient
from platform_core.testing.cluster import find_redis_cluster
from platform_core.testing.private import PrivateRedis
from platform_core.testing.services import (
    Service,
    ServiceUnavailableError,
    find_elasticsearch,
    find_postgres,
    find_redis,
    services_required,
)

# Fixtures defined elsewhere, registered by this plugin module.
from platform_core.testing.tracing import span_exporter as span_exporter
from platform_core.testing.tracing import spans as spans


def _unavailable(name: str, reason: str) -> None:
    message = f"{name} unavailable: {reason}"
    if services_required():
        pytest.fail(f"{message} (PLATFORM_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


def _session_service(
    request: pytest.FixtureRequest, name: str, finder: Callable[[], Service]
) -> Iterator[Service]:
    try:
        service = finder()
    except ServiceUnavailableError as exc:
        _unavailable(name, str(exc))
        raise AssertionError("unreachable") from exc
    request.config.stash.setdefault(_SOURCES, {})[name] = service.source
    try:
        yield service
    finally:
        service.stop()


_SOURCES = pytest.StashKey[dict[str, str]]()


def _unique(kind: str) -> str:
    return f"t{uuid.uuid4().hex[:12]}{kind}"


# --- Redis -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_service(request: pytest.FixtureRequest) -> Iterator[Service]:
    """The Redis server for this session (``REDIS_URL``, loopback :6379 or a private one)."""
    yield from _session_service(request, "Redis", find_redis)


@pytest.fixture
def redis_url(redis_service: Service) -> str:
    """URL of a running Redis server; pair with ``redis_key_prefix`` for isolation."""
    return redis_service.url


@pytest.fixture
def redis_key_prefix(redis_service: Service) -> Iterator[str]:
    """A key prefix unique to this test; every key under it is deleted afterwards."""
    prefix = _unique(":")
    yield prefix
    try:
        client = RespClient(redis_service.url)
    except OSError:
        return  # the test may have stopped Redis on purpose; nothing left to clean
    try:
        client.delete_prefix(prefix)
    except (OSError, RuntimeError):
        pass
    finally:
        client.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A started :class:`~platform_core.testing.PrivateRedis` of this test's own.

    For tests that stop, restart or kill Redis; the shared server is never touched. Stopped
    after the test.
    """
    try:
        server = PrivateRedis(tmp_path)
        server.start()
    except ServiceUnavailableError as exc:
        _unavailable("private Redis", str(exc))
        raise AssertionError("unreachable") from exc
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster_service(request: pytest.FixtureRequest) -> Iterator[Service]:
    """A Redis Cluster for this session (``REDIS_CLUSTER_URL``, or 3 private masters)."""
    yield from _session_service(request, "Redis Cluster", find_redis_cluster)


@pytest.fixture
def redis_cluster_url(redis_cluster_service: Service) -> str:
    """URL of one node of a running Redis Cluster; pair with ``redis_key_prefix``-style
    unique key names (the cluster is shared by the session)."""
    return redis_cluster_service.url


# --- PostgreSQL --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_service(request: pytest.FixtureRequest) -> Iterator[Service]:
    """The PostgreSQL server for this session (``DATABASE_URL``, loopback :5432 or private)."""
    yield from _session_service(request, "PostgreSQL", find_postgres)


class _Databases:
    """Fresh databases on one server: each made one test ahead, dropped in the background.

    ``CREATE DATABASE`` copies a template and ``DROP DATABASE`` waits for every backend of the
    cluster; together about a second per test on a busy server. One thread makes the next
    test's database while the current test runs and drops used ones, so a test waits only
    when it comes faster than that. A failed drop is raised when the session ends.
    """

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="platform-pg")
        self._spare: Future[str] | None = None
        self._drops: list[Future[None]] = []

    def _create(self) -> str:
        import psycopg

        name = _unique("")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def _drop(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def take(self) -> str:
        """A database no test has used; the next one starts being made at once."""
        spare, self._spare = self._spare, None
        name = spare.result() if spare is not None else self._create()
        self._spare = self._thread.submit(self._create)
        return name

    def release(self, name: str) -> None:
        """Drop ``name`` in the background."""
        self._drops.append(self._thread.submit(self._drop, name))

    def close(self) -> None:
        """Drop the spare, wait for every drop, and raise the first that failed."""
        spare, self._spare = self._spare, None
        try:
            if spare is not None:
                self.release(spare.result())
        finally:
            self._thread.shutdown(wait=True)
        for drop in self._drops:
            drop.result()


@pytest.fixture(scope="session")
def _postgres_databases(postgres_service: Service) -> Iterator[_Databases]:
    """The session's maker of fresh databases on ``postgres_service``."""
    databases = _Databases(postgres_service.url)
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def postgres_url(postgres_service: Service, _postgres_databases: _Databases) -> Iterator[str]:
    """URL (``postgresql://``) of a fresh database created for this test and dropped after."""
    name = _postgres_databases.take()
    base, _, _ = postgres_service.url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        _postgres_databases.release(name)


# --- Elasticsearch ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def elasticsearch_service(request: pytest.FixtureRequest) -> Iterator[Service]:
    """The Elasticsearch-compatible server for this session (``ES_URL``, :9200 or noida-db)."""
    yield from _session_service(request, "Elasticsearch", find_elasticsearch)


@pytest.fixture
def elasticsearch_url(elasticsearch_service: Service) -> str:
    """URL of an Elasticsearch-compatible server; pair with ``es_index_prefix``."""
    return elasticsearch_service.url


@pytest.fixture
def es_index_prefix(elasticsearch_service: Service) -> Iterator[str]:
    """An index-name prefix unique to this test; its indices are deleted afterwards."""
    prefix = _unique("_")
    yield prefix
    base = elasticsearch_service.url
    try:
        with urllib.request.urlopen(
            f"{base}/{prefix}*?ignore_unavailable=true&allow_no_indices=true", timeout=10
        ) as resp:
            names = list(json.loads(resp.read() or b"{}"))
        if names:
            req = urllib.request.Request(f"{base}/{','.join(names)}", method="DELETE")
            urllib.request.urlopen(req, timeout=10).close()
    except OSError:
        pass


def pytest_report_header(config: pytest.Config) -> str:
    """Say in the header whether missing services fail or skip."""
    mode = "fail" if services_required() else "skip"
    return f"platform_core services: missing services {mode} (PLATFORM_REQUIRE_SERVICES)"


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers the platform's suites use."""
    config.addinivalue_line("markers", "slow: a test that takes several seconds")


def _register_hypothesis_profiles() -> None:
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:
        return
    import os

    common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
    settings.register_profile("ci", max_examples=100, **common)  # type: ignore[arg-type]
    settings.register_profile("dev", max_examples=25, **common)  # type: ignore[arg-type]
    default = "ci" if os.environ.get("CI") else "dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))


_register_hypothesis_profiles()
