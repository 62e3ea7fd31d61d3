"""Fixtures: migrated databases on SQLite and PostgreSQL, the stores over them, and real
server processes (uvicorn on a free port) with API keys."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from platform_core.testing.services import free_port
from taskqueue.models import WebhookEvent
from taskqueue.receiver import WebhookHandler
from taskqueue.webhooks import generate_secret
from taskqueue_server.app import create_server_app
from taskqueue_server.db.apikeys import ApiKeyStore
from taskqueue_server.db.engine import create_engine, session_factory
from taskqueue_server.db.tasks import TaskStore
from taskqueue_server.db.tenancy import Role, TenantScope
from taskqueue_server.migrate import upgrade
from taskqueue_server.settings import ServerSettings


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tq.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated database, holding at most 8 connections (4 pooled, 4 overflow)
    so parallel test workers stay well inside a shared server's connection limit."""
    eng = create_engine(database_url, pool_size=4, max_overflow=4)
    await upgrade(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
def tasks(engine: AsyncEngine) -> TaskStore:
    """The task store over the migrated database, bound to the default tenant (admin)."""
    return TaskStore(session_factory(engine), engine.dialect.name).scoped(TenantScope("default"))


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """Environment for a server process on ``database_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKQUEUE_")}
    env.update(
        TASKQUEUE_DATABASE_URL=database_url,
        TASKQUEUE_WEBHOOK_ALLOW_PRIVATE="true",
        TASKQUEUE_LOG_LEVEL="WARNING",
        TASKQUEUE_RATE_LIMIT_PER_MINUTE="100000",
        TASKQUEUE_AUTH_FAILURES_PER_MINUTE="100000",
        TASKQUEUE_DELIVERY_POLL_INTERVAL="0.1",
        TASKQUEUE_WEBHOOK_BACKOFF_BASE="0.2",
    )
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``taskqueue-server ARGS`` and return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "taskqueue_server", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class ServerProcess:
    """A ``taskqueue-server serve`` process on a free port."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        """Start and wait until ``/health/ready`` answers 200."""
        env = {**self.env, "TASKQUEUE_PORT": str(self.port)}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "taskqueue_server", "serve", *self.args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 180  # a loaded CI machine can take a minute
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not become ready: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process (SIGTERM: graceful; SIGKILL: crash)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Factory: ``make_server(database_url, **env)`` starts a server; all stop at the end."""
    started: list[ServerProcess] = []

    def make(database_url: str, *args: str, **extra: str) -> ServerProcess:
        env = server_env(database_url, **extra)
        server = ServerProcess(env, tmp_path / f"server{len(started)}.log", args=args)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'server.db'}"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server on SQLite shared by the session's tests (each test uses its own key and
    its own project, so tests stay independent); starting a process costs seconds."""
    base = tmp_path_factory.mktemp("shared-server")
    proc = ServerProcess(server_env(f"sqlite:///{base / 'server.db'}"), base / "server.log")
    proc.start()
    yield proc
    proc.stop()


async def create_key_in(database_url: str, tenant: str = "default") -> str:
    """Create an admin API key of ``tenant`` directly in the server's database."""
    eng = create_engine(database_url)
    try:
        await upgrade(eng)
        return (await ApiKeyStore(session_factory(eng)).create("tests", tenant=tenant)).key
    finally:
        await eng.dispose()


@pytest.fixture
async def api_key(server: ServerProcess) -> str:
    """A fresh admin key on the shared ``server``, in a tenant of its own: the test sees only
    what it made (stats, lists and claims of other tests on the server stay out of sight)."""
    tenant = f"test-{uuid.uuid4().hex[:12]}"
    return await create_key_in(server.env["TASKQUEUE_DATABASE_URL"], tenant)


@pytest.fixture
def key_for() -> Callable[[ServerProcess], Awaitable[str]]:
    """``await key_for(server)`` creates an API key for another server's database."""

    async def make(server: ServerProcess) -> str:
        return await create_key_in(server.env["TASKQUEUE_DATABASE_URL"])

    return make


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_cli(env, *args)`` runs ``taskqueue-server`` in a subprocess."""
    return cli


@pytest.fixture
def app_client(
    sqlite_url: str,
) -> Callable[..., contextlib.AbstractAsyncContextManager[tuple[httpx.AsyncClient, str]]]:
    """``async with app_client(**settings) as (http, key)``: the app in this process (ASGI, no
    socket) with its lifespan running, and an API key. For tests of edge cases that need
    special settings; the SDK suite uses the spawned server."""

    @contextlib.asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
        settings = ServerSettings.load(
            **{"database_url": sqlite_url, "webhook_allow_private": True, **overrides}
        )
        app = create_server_app(settings)
        async with app.router.lifespan_context(app):
            key = await app.state.runtime.api_keys.create("tests")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://tq") as http:
                yield http, key.key

    return make


@dataclass
class Receiver:
    """A webhook receiver built with the SDK's ``WebhookHandler``, serving in a thread."""

    secret: str
    port: int
    events: list[WebhookEvent]

    @property
    def url(self) -> str:
        """The URL to subscribe."""
        return f"http://127.0.0.1:{self.port}/webhooks"

    def wait_for(
        self, predicate: Callable[[list[WebhookEvent]], bool], timeout: float = 30
    ) -> None:
        """Block until ``predicate(events)`` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(list(self.events)):
                return
            time.sleep(0.05)
        raise AssertionError(f"webhooks not received in time; got {self.events}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A verifying webhook receiver that records every event it is sent."""
    secret = generate_secret()
    handler = WebhookHandler(secret)
    events: list[WebhookEvent] = []

    @handler.on("*")
    async def record(event: WebhookEvent) -> None:
        events.append(event)

    port = free_port()
    server = handler.server(port, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield Receiver(secret, port, events)
    server.should_exit = True
    thread.join(timeout=10)


def start_worker(server: ServerProcess, key: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start a ``taskqueue worker`` process (the SDK's CLI) against ``server``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKQUEUE_")}
    env.update(TASKQUEUE_BASE_URL=server.url, TASKQUEUE_API_KEY=key)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "taskqueue.cli", "worker", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``workers(server, key, *args)`` starts a worker process; leftovers are killed after."""
    started: list[subprocess.Popen[bytes]] = []

    def make(server: ServerProcess, key: str, *args: str) -> subprocess.Popen[bytes]:
        proc = start_worker(server, key, tmp_path / f"worker{len(started)}.log", *args)
        started.append(proc)
        return proc

    yield make
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.asynccontextmanager
async def _serve(database_url: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    defaults: dict[str, Any] = {
        "webhook_allow_private": True,
        "api_key_cache_seconds": 0,
        "delivery_poll_interval": 0.05,
    }
    settings = ServerSettings.load(database_url=database_url, **{**defaults, **overrides})
    app = create_server_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tq") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def _new_key(
    http: httpx.AsyncClient, tenant: str, role: Role, projects: list[uuid.UUID] | None = None
) -> dict[str, str]:
    store = http.app.state.runtime.api_keys  # type: ignore[attr-defined]
    created = await store.create(f"{tenant}-{role}", tenant=tenant, role=role, projects=projects)
    return {"X-API-Key": created.key}


Serve = Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]
NewKey = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def serve() -> Serve:
    """``async with serve(database_url, **settings) as http``: the app in this process (ASGI),
    lifespan running, embedded delivery; ``http.app`` is the app."""
    return _serve


@pytest.fixture
def new_key() -> NewKey:
    """``await new_key(http, tenant, role, projects=None)``: headers with a new API key."""
    return _new_key
