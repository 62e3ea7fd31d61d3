"""Start the whole stack as local processes: what ``make run`` runs.

Embedded mode (default): the Task Queue API on SQLite with in-process webhook delivery, one
``taskqueue worker``, and the draft API on SQLite with offline drafts and in-process jobs.
Services mode (``REDIS_URL`` and ``DATABASE_URL`` both set): the same on PostgreSQL and Redis,
with webhook delivery, draft jobs and tasks in separate worker processes.

State lives under one data folder (``STACK_DATA_DIR``, default ``.data/``) and survives restarts:
the SQLite files, the Task Queue development API key (created with
``taskqueue-server create-api-key`` on first start) and the draft API key.

Settings the launcher reads (everything else is passed through to the services, so any
``TASKQUEUE_*`` or ``DRAFTS_*`` variable set in the shell wins over the launcher's choice):

=============================== ===========================================================
``STACK_DATA_DIR``              data folder (default ``.data``)
``TASKQUEUE_PORT``              Task Queue API port (default 8080)
``DRAFTS_PORT``                 draft API port (default 8000)
``REDIS_URL``, ``DATABASE_URL`` both set: services mode (databases ``<db>_taskqueue`` and
                                ``<db>_drafts`` are created on the PostgreSQL server)
``STACK_DRAFT_WORKERS``         services mode: ``draft-service worker`` processes (default 1)
``STACK_WORKER_SHUTDOWN_TIMEOUT`` seconds the task worker's commands get after Ctrl-C (1.5)
``OTEL_EXPORTER_OTLP_ENDPOINT`` set: every service exports traces to this OTLP/HTTP endpoint
=============================== ===========================================================

Logs are prefixed by service. Ctrl-C (or SIGTERM) stops the stack in order: first the
workers (the task worker gives running commands ``STACK_WORKER_SHUTDOWN_TIMEOUT`` seconds,
default 1.5, then kills them and hands their tasks back to Pending), then the APIs, so no task
is left Running and nothing is stopped mid-request.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

COLORS = ["\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m", "\033[31m"]
RESET = "\033[0m"
READY_LINE = "Stack is up"
TASKQUEUE_KEY_FILE = "taskqueue-api-key"
DRAFTS_KEY_FILE = "drafts-api-key"


class StackError(Exception):
    """A problem that stops the stack from starting; the message says what to change."""


@dataclass
class Proc:
    """One supervised child process.

    Attributes:
        name: The log prefix.
        argv: The command line.
        env: The environment it runs with.
        health_url: When set, the launcher waits for a 200 there before going on.
        needs_taskqueue_key: The Task Queue API key is added to ``env`` before the start.
        worker: Stopped before the APIs (it may still report to them while it stops).
    """

    name: str
    argv: list[str]
    env: dict[str, str]
    health_url: str | None = None
    needs_taskqueue_key: bool = False
    worker: bool = False
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)


@dataclass
class Plan:
    """Everything the launcher will start, derived from the environment."""

    data_dir: Path
    mode: str
    taskqueue_port: int
    drafts_port: int
    drafts_key: str
    taskqueue_server: str
    taskqueue_env: dict[str, str]
    oneshots: list[Proc]
    services: list[Proc]
    taskqueue_key: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def taskqueue_url(self) -> str:
        """Base URL of the Task Queue API."""
        return f"http://127.0.0.1:{self.taskqueue_port}"

    @property
    def drafts_url(self) -> str:
        """Base URL of the draft API."""
        return f"http://127.0.0.1:{self.drafts_port}"


def _bin(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"command {name!r} not found; run `make install` first")
    return found


def _port(env: dict[str, str], var: str, default: int) -> int:
    raw = env.get(var, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise StackError(f"{var}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise StackError(f"{var}={port} is not a port number (1-65535)")
    return port


def _count(env: dict[str, str], var: str, default: int) -> int:
    raw = env.get(var, str(default))
    if not raw.isdigit():
        raise StackError(f"{var}={raw!r} is not a count (0 or more)")
    return int(raw)


def check_port_free(port: int, var: str) -> None:
    """Fail with the port and the setting that changes it when something listens there.

    SO_REUSEADDR mirrors what uvicorn does, so a port in TIME_WAIT after a restart counts as
    free while a live listener does not.

    Raises:
        StackError: the port is taken.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
        except OSError:
            raise StackError(
                f"port {port} is already in use; stop what listens there or set {var} "
                f"to another port (e.g. {var}={port + 1} make run)"
            ) from None


def _secret(path: Path, prefix: str) -> str:
    if path.exists():
        return path.read_text().strip()
    value = prefix + secrets.token_urlsafe(24)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _pg_database(url: str, suffix: str) -> str:
    """``postgresql://u@h/db`` -> ``postgresql+asyncpg://u@h/db_suffix``, created if missing."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    if not parts.scheme.startswith(("postgresql", "postgres")):
        raise StackError(f"DATABASE_URL must be a postgresql:// URL, not {parts.scheme}://")
    db = parts.path.lstrip("/") or "postgres"
    name = f"{db}_{suffix}"
    # Connect to DATABASE_URL's own database, or to `postgres` when that one does not exist yet.
    errors: list[str] = []
    for candidate in dict.fromkeys([db, "postgres"]):
        plain = urllib.parse.urlunsplit(
            ("postgresql", parts.netloc, f"/{candidate}", parts.query, "")
        )
        try:
            with psycopg.connect(plain, autocommit=True, connect_timeout=10) as conn:
                found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if found.fetchone() is None:
                    conn.execute(f'CREATE DATABASE "{name}"')
            break
        except psycopg.Error as exc:
            errors.append(f"{candidate}: {exc}".strip())
    else:
        raise StackError(
            f"cannot create database {name!r} on the server in DATABASE_URL: " + "; ".join(errors)
        )
    return urllib.parse.urlunsplit(
        ("postgresql+asyncpg", parts.netloc, f"/{name}", parts.query, "")
    )


def _telemetry(env: dict[str, str], prefix: str) -> dict[str, str]:
    endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint:
        return {}
    return {
        f"{prefix}TELEMETRY__ENABLED": "true",
        f"{prefix}TELEMETRY__OTLP_ENDPOINT": endpoint,
    }


def _defaults(env: dict[str, str], defaults: dict[str, str]) -> dict[str, str]:
    """``env`` with ``defaults`` filled in where the shell did not set the variable."""
    return {**defaults, **env}


def make_plan(environ: dict[str, str] | None = None) -> Plan:
    """Work out the processes, ports, databases and keys from the environment.

    Raises:
        StackError: a setting is wrong or a command is missing.
    """
    env = dict(os.environ if environ is None else environ)
    data = Path(env.get("STACK_DATA_DIR", ".data")).resolve()
    data.mkdir(parents=True, exist_ok=True)
    tq_port = _port(env, "TASKQUEUE_PORT", 8080)
    dr_port = _port(env, "DRAFTS_PORT", 8000)
    if tq_port == dr_port:
        raise StackError(f"TASKQUEUE_PORT and DRAFTS_PORT are both {tq_port}; pick two ports")
    services_mode = bool(env.get("REDIS_URL") and env.get("DATABASE_URL"))
    notes = []
    if not services_mode and (env.get("REDIS_URL") or env.get("DATABASE_URL")):
        only = "REDIS_URL" if env.get("REDIS_URL") else "DATABASE_URL"
        notes.append(
            f"only {only} is set; services mode needs both REDIS_URL and DATABASE_URL, "
            "so the stack runs embedded (SQLite, in-process jobs)"
        )
    dr_key = env.get("DRAFTS_API_KEY") or _secret(data / DRAFTS_KEY_FILE, "dr_dev_")
    base = {**env, "PYTHONUNBUFFERED": "1"}
    # The launcher owns these: the port flags below decide where the APIs listen.
    for var in ("TASKQUEUE_PORT", "TASKQUEUE_HOST"):
        base.pop(var, None)
    tq: dict[str, str] = {
        "TASKQUEUE_LOG_FORMAT": "console",
        "TASKQUEUE_WEBHOOK_ALLOW_PRIVATE": "true",  # local development: loopback receivers
        **_telemetry(env, "TASKQUEUE_"),
    }
    dr: dict[str, str] = {
        "DRAFTS_LOG_FORMAT": "console",
        "DRAFTS_API_KEY": dr_key,
        **_telemetry(env, "DRAFTS_"),
    }
    if services_mode:
        tq["TASKQUEUE_DATABASE_URL"] = _pg_database(env["DATABASE_URL"], "taskqueue")
        tq["TASKQUEUE_REDIS_URL"] = env["REDIS_URL"]
        dr["DRAFTS_DATABASE_URL"] = _pg_database(env["DATABASE_URL"], "drafts")
        dr["DRAFTS_REDIS_URL"] = env["REDIS_URL"]
    else:
        tq["TASKQUEUE_DATABASE_URL"] = f"sqlite+aiosqlite:///{data / 'taskqueue.db'}"
        dr["DRAFTS_DATABASE_URL"] = f"sqlite+aiosqlite:///{data / 'drafts.db'}"
        base.pop("TASKQUEUE_REDIS_URL", None)
        base.pop("DRAFTS_REDIS_URL", None)
    tq_env = _defaults(base, tq)
    dr_env = _defaults(base, dr)
    worker_env = {**base, "TASKQUEUE_BASE_URL": f"http://127.0.0.1:{tq_port}"}
    tq_server, drafts = _bin("taskqueue-server"), _bin("draft-service")
    oneshots = [
        Proc("taskqueue-migrate", [tq_server, "migrate"], tq_env),
        Proc("drafts-migrate", [drafts, "migrate"], dr_env),
    ]
    procs = [
        Proc(
            "taskqueue-api",
            [tq_server, "serve", "--host", "127.0.0.1", "--port", str(tq_port)],
            tq_env,
            f"http://127.0.0.1:{tq_port}/health/live",
        ),
        Proc(
            "draft-api",
            # The draft-api app: the service's API plus the inbox at /ui/ and MCP at /mcp
            # (`draft-service serve` is the bare API without them).
            [_bin("draft-api")],
            {
                **dr_env,
                "DRAFT_API_HOST": "127.0.0.1",
                "DRAFT_API_PORT": str(dr_port),
                "DRAFT_API_GRACEFUL_TIMEOUT": "5",
            },
            f"http://127.0.0.1:{dr_port}/health/live",
        ),
    ]
    if services_mode:
        procs.append(Proc("webhook-delivery", [tq_server, "deliver"], tq_env, worker=True))
        for n in range(1, _count(env, "STACK_DRAFT_WORKERS", 1) + 1):
            procs.append(Proc(f"draft-worker-{n}", [drafts, "worker"], dr_env, worker=True))
    shutdown = env.get("STACK_WORKER_SHUTDOWN_TIMEOUT", "1.5")
    try:
        if float(shutdown) < 0:
            raise ValueError(shutdown)
    except ValueError:
        raise StackError(
            f"STACK_WORKER_SHUTDOWN_TIMEOUT={shutdown!r} is not a number of seconds (0 or more)"
        ) from None
    procs.append(
        Proc(
            "task-worker",
            [_bin("taskqueue"), "worker", "--shutdown-timeout", shutdown],
            worker_env,
            needs_taskqueue_key=True,
            worker=True,
        )
    )
    return Plan(
        data_dir=data,
        mode="services" if services_mode else "embedded",
        taskqueue_port=tq_port,
        drafts_port=dr_port,
        drafts_key=dr_key,
        taskqueue_server=tq_server,
        taskqueue_env=tq_env,
        oneshots=oneshots,
        services=procs,
        notes=notes,
    )


class Supervisor:
    """Starts the plan's processes, prefixes their output, and stops them together."""

    def __init__(self, plan: Plan, out: TextIO | None = None) -> None:
        self.plan = plan
        self.out = out or sys.stdout
        self._color = self.out.isatty()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._pumps: list[threading.Thread] = []
        self._width = max(
            len(p.name) for p in [*plan.oneshots, *plan.services, Proc("stack", [], {})]
        )

    def say(self, name: str, line: str, color: str = "") -> None:
        """Write one line with the service prefix."""
        if self._color and color:
            prefix = f"{color}{name:<{self._width}} |{RESET}"
        else:
            prefix = f"{name:<{self._width}} |"
        with self._lock:
            for part in line.splitlines() or [""]:
                self.out.write(f"{prefix} {part}\n")
            self.out.flush()

    def _pump(self, proc: Proc, color: str) -> None:
        assert proc.popen is not None
        assert proc.popen.stdout is not None
        for raw in proc.popen.stdout:
            self.say(proc.name, raw.decode(errors="replace").rstrip(), color)

    def _spawn(self, proc: Proc, color: str) -> None:
        proc.popen = subprocess.Popen(
            proc.argv,
            env=proc.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the launcher only; it stops the children
        )
        pump = threading.Thread(target=self._pump, args=(proc, color), daemon=True)
        pump.start()
        self._pumps.append(pump)

    def run_oneshots(self) -> None:
        """Run the migrations; a failure stops the launch.

        Raises:
            StackError: a migration failed.
        """
        for i, proc in enumerate(self.plan.oneshots):
            self._spawn(proc, COLORS[i % len(COLORS)])
            assert proc.popen is not None
            if proc.popen.wait() != 0:
                self._pumps[-1].join(5)
                raise StackError(f"{proc.name} failed with exit code {proc.popen.returncode}")

    def start(self) -> None:
        """Check ports, run migrations, start every service and wait until the APIs answer.

        Raises:
            StackError: a port is taken, a migration failed or a service did not come up.
        """
        check_port_free(self.plan.taskqueue_port, "TASKQUEUE_PORT")
        check_port_free(self.plan.drafts_port, "DRAFTS_PORT")
        self.run_oneshots()
        for i, proc in enumerate(self.plan.services):
            if self._stopping.is_set():
                return
            if proc.needs_taskqueue_key:
                proc.env["TASKQUEUE_API_KEY"] = self.ensure_taskqueue_key()
            self._spawn(proc, COLORS[(i + 2) % len(COLORS)])
            if proc.health_url:
                self._wait_healthy(proc)

    def ensure_taskqueue_key(self) -> str:
        """The development API key: the one under the data folder if the API accepts it.

        Otherwise (first start, or a database that was reset) a new key is created with
        ``taskqueue-server create-api-key --json`` and saved for the next start.

        Raises:
            StackError: the key could not be created.
        """
        if self.plan.taskqueue_key is not None:
            return self.plan.taskqueue_key
        path = self.plan.data_dir / TASKQUEUE_KEY_FILE
        if path.exists():
            key = path.read_text().strip()
            if key and self._key_accepted(key):
                self.plan.taskqueue_key = key
                return key
            self.say("stack", f"{path} is not accepted by the Task Queue API; creating a new key")
        done = subprocess.run(
            [self.plan.taskqueue_server, "create-api-key", "--name", "dev-stack", "--json"],
            env=self.plan.taskqueue_env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(
                f"taskqueue-server create-api-key failed ({done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}"
            )
        try:
            key = str(json.loads(done.stdout.strip().splitlines()[-1])["key"])
        except (ValueError, KeyError, IndexError) as exc:
            raise StackError(f"unexpected create-api-key output: {done.stdout!r}") from exc
        path.write_text(key + "\n")
        path.chmod(0o600)
        self.plan.taskqueue_key = key
        return key

    def _key_accepted(self, key: str) -> bool:
        req = urllib.request.Request(
            f"{self.plan.taskqueue_url}/api/stats", headers={"Authorization": f"Bearer {key}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return bool(resp.status == 200)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                return False
            raise StackError(f"the Task Queue API answered {exc.code} to a key check") from exc
        except OSError as exc:
            raise StackError(f"the Task Queue API did not answer a key check: {exc}") from exc

    def _wait_healthy(self, proc: Proc, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        assert proc.popen is not None
        assert proc.health_url is not None
        while time.monotonic() < deadline and not self._stopping.is_set():
            if proc.popen.poll() is not None:
                raise StackError(f"{proc.name} exited with code {proc.popen.returncode}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(proc.health_url, timeout=1) as resp,
            ):
                if resp.status == 200:
                    return
            time.sleep(0.2)
        if not self._stopping.is_set():
            raise StackError(f"{proc.name} did not answer {proc.health_url} within {seconds:.0f}s")

    def wait(self) -> int:
        """Block until a service exits or a stop is requested; return the exit code."""
        while not self._stopping.is_set():
            for proc in self.plan.services:
                if proc.popen is not None and proc.popen.poll() is not None:
                    self.say("stack", f"{proc.name} exited with code {proc.popen.returncode}")
                    return 1
            self._stopping.wait(0.5)
        return 0

    def stop_requested(self) -> bool:
        """Whether Ctrl-C or SIGTERM arrived."""
        return self._stopping.is_set()

    def request_stop(self, *_: object) -> None:
        """Signal handler: ask the main loop to stop."""
        self._stopping.set()

    def stop(self, worker_seconds: float = 10, api_seconds: float = 10) -> None:
        """Stop the workers first (SIGTERM; they finish or hand back their tasks while the APIs
        still answer), then everything else; SIGKILL what outlives its allowance. Flush the
        output."""
        everything = [*self.plan.services, *self.plan.oneshots]
        self._terminate([p for p in everything if p.worker], worker_seconds)
        self._terminate([p for p in everything if not p.worker], api_seconds)
        for pump in self._pumps:
            pump.join(2)

    def _terminate(self, procs: list[Proc], seconds: float) -> None:
        running = [p for p in procs if p.popen is not None and p.popen.poll() is None]
        for proc in running:
            assert proc.popen is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + seconds
        for proc in running:
            assert proc.popen is not None
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("stack", f"{proc.name} did not stop within {seconds:g}s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait()


def banner(plan: Plan) -> str:
    """What to print once everything answers: URLs, keys and three commands to try."""
    cli = Path(sys.executable).with_name("taskqueue")
    with contextlib.suppress(ValueError):
        cli = cli.relative_to(Path.cwd())
    thread = json.dumps(
        {
            "user_id": "ana",
            "thread_name": "weekend",
            "messages": [
                {
                    "message_id": "m1",
                    "sender_name": "Bo",
                    "date": "2026-11-21",
                    "time": "18:02:11",
                    "message_content": "Are we still on for Saturday?",
                }
            ],
        }
    )
    auth = f"-H 'Authorization: Bearer {plan.drafts_key}'"
    return "\n".join(
        [
            "",
            f"{READY_LINE} ({plan.mode} mode; data in {plan.data_dir}).",
            f"  Task Queue API  {plan.taskqueue_url}   (docs: {plan.taskqueue_url}/docs)",
            f"  Draft API       {plan.drafts_url}   (docs: {plan.drafts_url}/docs)",
            f"  Task dashboard  {plan.taskqueue_url}/ui/   (sign in with the key below)",
            f"  Draft inbox     {plan.drafts_url}/ui/",
            f"  Task Queue API key (dev): {plan.taskqueue_key}",
            f"  Draft API key (dev):      {plan.drafts_key}",
            "",
            "Try:",
            f"  {cli} --base-url {plan.taskqueue_url} --api-key "
            f"{plan.taskqueue_key} tasks create --name hello --command 'echo hello'",
            f"  curl -s -X POST {plan.drafts_url}/send-messages/ {auth} "
            f"-H 'Content-Type: application/json' -d '{thread}'",
            f"  curl -s '{plan.drafts_url}/draft-messages/?user_id=ana' {auth}",
            "",
            "Ctrl-C stops everything.",
        ]
    )


# Options that stand for a launcher setting: (flag, variable, help).
_OPTIONS = (
    ("--data-dir", "STACK_DATA_DIR", "data folder (default .data)"),
    ("--taskqueue-port", "TASKQUEUE_PORT", "Task Queue API port (default 8080)"),
    ("--drafts-port", "DRAFTS_PORT", "draft API port (default 8000)"),
    ("--draft-workers", "STACK_DRAFT_WORKERS", "services mode: draft-service workers (default 1)"),
)


def parse_args(argv: list[str] | None = None) -> dict[str, str]:
    """Read the command line; return the settings it sets, by environment variable name.

    ``--help`` prints the launcher's description (this module's docstring) and exits 0; an
    unknown option exits 2, like any usage error.
    """
    parser = argparse.ArgumentParser(
        prog="run_stack.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="An option wins over its variable; Ctrl-C stops the stack.",
    )
    for flag, variable, text in _OPTIONS:
        parser.add_argument(flag, dest=variable, metavar=variable, help=f"{text}; sets {variable}")
    args = vars(parser.parse_args(argv))
    return {name: value for name, value in args.items() if value is not None}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``make run``."""
    overrides = parse_args(argv)
    sup: Supervisor | None = None
    try:
        plan = make_plan({**os.environ, **overrides})
        sup = Supervisor(plan)
        signal.signal(signal.SIGINT, sup.request_stop)
        signal.signal(signal.SIGTERM, sup.request_stop)
        try:
            for note in plan.notes:
                sup.say("stack", note)
            sup.start()
            if sup.stop_requested():
                code = 0
            else:
                sup.say("stack", banner(plan))
                code = sup.wait()
        finally:
            sup.stop()
    except StackError as exc:
        print(f"make run: {exc}", file=sys.stderr, flush=True)
        return 1
    print("stack stopped", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
