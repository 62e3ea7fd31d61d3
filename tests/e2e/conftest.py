"""Fixtures of the end-to-end tests: the stack started by the ``make run`` launcher, and the
small local servers the stack talks to (a webhook receiver, an OpenAI-compatible LLM, an
OTLP/HTTP trace collector).

Every wait goes through :meth:`Stack.eventually`, which checks that the launcher still runs on
each turn, so a process that dies fails the test at once with the launcher's output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

from platform_core.testing.services import free_port

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "scripts" / "run_stack.py"
READY_LINE = "Stack is up"
# Variables of the developer's shell that would change what the launcher starts.
_ISOLATE_PREFIXES = ("TASKQUEUE_", "DRAFTS_", "DRAFT_API_", "OTEL_", "STACK_", "OPENROUTER_")
_ISOLATE_NAMES = ("REDIS_URL", "DATABASE_URL", "ACTIVITY_STORE_BACKEND", "ACTIVITY_STORE_CACHE")
T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of this directory (deselect with ``-m "not e2e"``)."""
    config.addinivalue_line("markers", "e2e: starts the whole stack with scripts/run_stack.py")


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without stack settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_ISOLATE_PREFIXES) and k not in _ISOLATE_NAMES
    }
    env.update(extra)
    return env


class Output:
    """Collects a child's merged stdout/stderr lines on a thread."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self._popen = popen
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        stream = self._popen.stdout
        assert stream is not None
        with stream:
            for raw in stream:
                self.lines.append(raw.decode(errors="replace").rstrip())

    def join(self) -> None:
        """Wait until the child closed its output."""
        self._thread.join(10)

    def text(self, last: int = 250) -> str:
        """The last ``last`` lines."""
        return "\n".join(self.lines[-last:])


class Stack:
    """One run of ``scripts/run_stack.py`` (what ``make run`` starts) as a subprocess."""

    def __init__(
        self, data_dir: Path, env: dict[str, str], ports: tuple[int, int] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.taskqueue_port, self.drafts_port = ports or (free_port(), free_port())
        self.env = {
            **env,
            "STACK_DATA_DIR": str(data_dir),
            "TASKQUEUE_PORT": str(self.taskqueue_port),
            "DRAFTS_PORT": str(self.drafts_port),
        }
        self.popen: subprocess.Popen[bytes] | None = None
        self.output: Output | None = None
        self.helpers: list[tuple[str, subprocess.Popen[bytes], Output]] = []

    @property
    def taskqueue_url(self) -> str:
        """Base URL of the Task Queue API."""
        return f"http://127.0.0.1:{self.taskqueue_port}"

    @property
    def drafts_url(self) -> str:
        """Base URL of the draft API."""
        return f"http://127.0.0.1:{self.drafts_port}"

    @property
    def taskqueue_key(self) -> str:
        """The development key the launcher created and kept under the data folder."""
        return (self.data_dir / "taskqueue-api-key").read_text().strip()

    @property
    def drafts_headers(self) -> dict[str, str]:
        """The Bearer header for the draft API."""
        key = (self.data_dir / "drafts-api-key").read_text().strip()
        return {"Authorization": f"Bearer {key}"}

    def start(self, timeout: float = 180.0) -> None:
        """Run the launcher and wait for its ready banner."""
        self.popen = subprocess.Popen(
            [sys.executable, str(LAUNCHER)],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.output = Output(self.popen)
        self.eventually(
            lambda: any(READY_LINE in line for line in self.output_lines()),
            timeout,
            "the launcher's ready banner",
        )

    def output_lines(self) -> list[str]:
        """Every line the launcher printed so far."""
        return [] if self.output is None else list(self.output.lines)

    def describe(self) -> str:
        """The launcher's state and output (and the helper processes'), for failure reports."""
        if self.popen is None:
            state = "not running"
        elif self.popen.poll() is None:
            state = f"running (pid {self.popen.pid})"
        else:
            state = f"exited with code {self.popen.returncode}"
        parts = [f"launcher {state}; data in {self.data_dir}"]
        if self.output is not None:
            parts.append(f"--- launcher output (last lines) ---\n{self.output.text()}")
        for name, popen, out in self.helpers:
            parts.append(f"--- {name} (exit {popen.poll()}) output ---\n{out.text(80)}")
        return "\n".join(parts)

    def fail(self, why: str) -> NoReturn:
        """Fail the test with the launcher's (and helper processes') output."""
        pytest.fail(f"{why}\n{self.describe()}", pytrace=False)

    def check_alive(self) -> None:
        """Fail loudly if the launcher exited (it exits when any of its services dies)."""
        if self.popen is not None and self.popen.poll() is not None:
            assert self.output is not None
            self.output.join()
            self.fail(f"the stack exited with code {self.popen.returncode}")

    def eventually(self, probe: Callable[[], T | None], timeout: float, what: str) -> T:
        """Call ``probe`` until it returns something truthy; the stack must stay up meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.25)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start a helper process next to the stack (e.g. an extra worker); stopped at teardown."""
        popen = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.helpers.append((name, popen, Output(popen)))
        return popen

    def stop(self) -> None:
        """Ctrl-C the launcher, as a person would; it must stop everything and exit 0."""
        for _, popen, _ in self.helpers:
            if popen.poll() is None:
                popen.send_signal(signal.SIGTERM)
                try:
                    popen.wait(20)
                except subprocess.TimeoutExpired:
                    popen.kill()
                    popen.wait()
        if self.popen is None or self.popen.poll() is not None:
            self.check_alive()
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            code = self.popen.wait(60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            self.fail("the launcher did not stop within 60s of Ctrl-C")
        assert self.output is not None
        self.output.join()
        if code != 0 or "stack stopped" not in self.output_lines():
            self.fail(f"the launcher exited with code {code} after Ctrl-C")
        self.popen = None

    def kill(self) -> None:
        """Teardown of last resort: stop whatever still runs."""
        for _, popen, _ in self.helpers:
            if popen.poll() is None:
                popen.kill()
                popen.wait()
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


_STACKS = pytest.StashKey[list[Stack]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach every stack's output to a failed test's report, whatever raised."""
    outcome: Any = yield
    report = outcome.get_result()
    if report.failed:
        for stack in item.stash.get(_STACKS, []):
            report.sections.append((f"stack {stack.data_dir}", stack.describe()))


@pytest.fixture
def stacks(request: pytest.FixtureRequest) -> Iterator[list[Stack]]:
    """Every stack a test started; each is stopped at teardown."""
    started: list[Stack] = []
    request.node.stash[_STACKS] = started
    yield started
    for stack in started:
        stack.kill()


# --- an OpenAI-compatible chat-completions server ------------------------------------------


class FakeLLM:
    """Answers ``POST /v1/chat/completions`` like OpenAI; can hold the first call back.

    Attributes:
        calls: How many completions were requested.
        first_call: Set when the first request arrived.
        release: The held first request answers once this is set.
    """

    def __init__(self, hold_first: bool = False) -> None:
        self.calls = 0
        self.hold_first = hold_first
        self.first_call = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        llm = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with llm._lock:
                    llm.calls += 1
                    n = llm.calls
                llm.first_call.set()
                if n == 1 and llm.hold_first:
                    llm.release.wait(60)
                text = f"Sure, see you then! (draft {n})"
                answer = {
                    "id": f"chatcmpl-{n}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "test-model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
                }
                data = json.dumps(answer).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    # The worker that asked was SIGKILLed on purpose while this call was held.
                    return

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict[str, str]:
        """The draft service settings that point it at this server."""
        return {
            "DRAFTS_LLM_PROVIDER": "openai",
            "OPENROUTER_API_KEY": "test-key",
            "OPENROUTER_MODEL": "test-model",
            "DRAFTS_LLM_BASE_URL": self.base_url,
        }

    def close(self) -> None:
        """Stop serving."""
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """An OpenAI-compatible server answering at once."""
    llm = FakeLLM()
    yield llm
    llm.close()


@pytest.fixture
def held_llm() -> Iterator[FakeLLM]:
    """An OpenAI-compatible server that holds its first call until ``release`` is set."""
    llm = FakeLLM(hold_first=True)
    yield llm
    llm.close()


# --- a Task Queue webhook receiver built with the SDK ----------------------------------------


class Receiver:
    """A ``taskqueue.receiver.WebhookHandler`` served on a free loopback port.

    Attributes:
        secret: The signing secret the subscription must use.
        events: Every verified event, in arrival order.
    """

    def __init__(self) -> None:
        from taskqueue import WebhookEvent, generate_secret
        from taskqueue.receiver import WebhookHandler

        self.secret = generate_secret()
        self.events: list[WebhookEvent] = []
        self.handler = WebhookHandler(self.secret)
        self.handler.on("*")(self.events.append)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{self.handler.path}"
        self.server = self.handler.server(self.port, log_config=None)
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start within 20s")
            time.sleep(0.05)

    def completed_ids(self) -> set[str]:
        """Ids of the tasks a verified ``task.completed`` arrived for."""
        return {str(e.task().id) for e in self.events if e.type.value == "task.completed"}

    def close(self) -> None:
        """Stop serving."""
        self.server.should_exit = True
        self._thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A verified webhook receiver on a free port."""
    rec = Receiver()
    yield rec
    rec.close()


# --- the flows a user runs against the stack -------------------------------------------------


def thread_body(user_id: str, thread_name: str, *messages: tuple[str, str]) -> dict[str, Any]:
    """A ``POST /send-messages/`` body from ``(message_id, text)`` pairs."""
    return {
        "user_id": user_id,
        "thread_name": thread_name,
        "messages": [
            {
                "message_id": mid,
                "sender_name": "Bo",
                "date": "2026-11-21",
                "time": f"18:0{i}:11.5",
                "message_content": text,
            }
            for i, (mid, text) in enumerate(messages)
        ],
    }


class Drafts:
    """HTTP calls to the draft API, each waiting through :meth:`Stack.eventually`."""

    def __init__(self, stack: Stack) -> None:
        import httpx

        self.stack = stack
        self.owners: dict[str, str] = {}
        self.http = httpx.Client(
            base_url=stack.drafts_url, headers=stack.drafts_headers, timeout=30
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def accepted(self, path: str, body: dict[str, Any]) -> str:
        """POST ``body``; expect the 202 with a job id and its ``Location``; return the id."""
        resp = self.http.post(path, json=body)
        assert resp.status_code == 202, resp.text
        job_id = str(resp.json()["job_id"])
        assert resp.json()["message"] == "Message processing started in the background"
        assert f"/jobs/{job_id}?user_id=" in resp.headers["location"]
        self.owners[job_id] = str(body["user_id"])  # a job is read by its owner only
        return job_id

    def job_done(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        """Wait until the job is done; a failed or discarded job fails the test."""

        def probe() -> dict[str, Any] | None:
            params = {"user_id": self.owners[job_id]}
            job: dict[str, Any] = self.http.get(f"/jobs/{job_id}", params=params).json()
            if job["status"] in ("failed", "discarded"):
                self.stack.fail(f"draft job ended {job['status']}: {job}")
            return job if job["status"] == "done" else None

        return self.stack.eventually(probe, timeout, f"draft job {job_id}")

    def listed(self, user_id: str) -> list[dict[str, Any]]:
        """The user's current drafts."""
        resp = self.http.get("/draft-messages/", params={"user_id": user_id})
        assert resp.status_code == 200, resp.text
        drafts: list[dict[str, Any]] = resp.json()["draft_messages"]
        return drafts

    def detail(self, user_id: str, draft_id: str) -> dict[str, Any]:
        """A draft with its lineage."""
        resp = self.http.get(f"/drafts/{draft_id}", params={"user_id": user_id})
        assert resp.status_code == 200, resp.text
        detail: dict[str, Any] = resp.json()
        return detail

    def full_flow(self, user_id: str) -> str:
        """Send a thread, see the draft, give feedback, reject it; return the draft id."""
        job = self.accepted(
            "/send-messages/",
            thread_body(user_id, "weekend", ("m1", "Are we still on for Saturday?")),
        )
        draft_id = str(self.job_done(job)["draft_message_id"])
        [listed] = self.listed(user_id)
        assert listed["draft_message_id"] == draft_id
        assert listed["thread_name"] == "weekend"
        assert listed["draft_message_content"]

        job = self.accepted(
            "/process-feedback/",
            {"user_id": user_id, "draft_message_id": draft_id, "feedback": "Say yes, warmly."},
        )
        assert self.job_done(job)["draft_message_id"] == draft_id
        revisions = self.detail(user_id, draft_id)["revisions"]
        assert [r["feedback"] for r in revisions] == [None, "Say yes, warmly."]

        resp = self.http.post(
            "/reject-draft/", json={"user_id": user_id, "draft_message_id": draft_id}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"message": "Draft rejected"}
        assert self.listed(user_id) == []
        return draft_id


@pytest.fixture
def drafts_for() -> Iterator[Callable[[Stack], Drafts]]:
    """Make a :class:`Drafts` for a stack; closed at teardown."""
    made: list[Drafts] = []

    def make(stack: Stack) -> Drafts:
        made.append(Drafts(stack))
        return made[-1]

    yield make
    for d in made:
        d.close()


def run_task_flow(stack: Stack, receiver: Receiver) -> list[str]:
    """With the SDK: subscribe the receiver, create a project and two dependent tasks, let the
    worker run them, and wait for both verified ``task.completed`` webhooks. Returns the ids.
    """
    from taskqueue import TaskQueueClient, TaskStatus

    with TaskQueueClient(stack.taskqueue_url, api_key=stack.taskqueue_key) as client:
        client.create_webhook(receiver.url, ["task.completed"], secret=receiver.secret)
        project = client.create_project(name="e2e")
        first = client.create_task(name="hello", command="echo hello", project_id=str(project.id))
        second = client.create_task(
            name="after hello",
            command="echo second",
            project_id=str(project.id),
            dependencies=[str(first.id)],
        )
        ids = [str(first.id), str(second.id)]
        for task_id, out in zip(ids, ("hello", "second"), strict=True):

            def probe(task_id: str = task_id) -> Any:
                task = client.get_task(task_id)
                if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
                    stack.fail(f"task {task_id} ended {task.status}: {task.result}")
                return task if task.status == TaskStatus.COMPLETED else None

            done = stack.eventually(probe, 60, f"task {task_id} to complete")
            assert done.result is not None
            assert done.result.stdout.strip() == out
            assert done.result.exit_code == 0
    stack.eventually(
        lambda: receiver.completed_ids() >= set(ids), 60, "both task.completed webhooks"
    )
    return ids


@pytest.fixture
def stack_factory(stacks: list[Stack]) -> Callable[..., Stack]:
    """Start the launcher on ``data_dir`` and wait until it is up.

    ``ports`` (Task Queue, drafts) default to free ones; ``env`` is added to a clean environment.
    """

    def start(data_dir: Path, ports: tuple[int, int] | None = None, **env: str) -> Stack:
        stack = Stack(data_dir, clean_env(**env), ports)
        stacks.append(stack)
        stack.start()
        return stack

    return start


@pytest.fixture
def task_flow() -> Callable[[Stack, Receiver], list[str]]:
    """:func:`run_task_flow`."""
    return run_task_flow


@pytest.fixture
def make_thread() -> Callable[..., dict[str, Any]]:
    """:func:`thread_body`."""
    return thread_body


# --- an OTLP/HTTP trace collector -------------------------------------------------------------


class Collector:
    """Receives OTLP/HTTP exports from every process; spans decoded with opentelemetry-proto.

    Attributes:
        spans: One dict per span: ``trace_id``, ``span_id``, ``parent_id`` (hex), ``name``,
            ``kind``, ``service`` (the ``service.name`` resource attribute) and ``attributes``.
    """

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                import gzip

                from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/traces":
                    request = trace_service_pb2.ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    collector.add(request)
                    answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                else:
                    answer = b""  # metrics and logs are accepted and not kept
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, request: Any) -> None:
        """Keep the spans of one ``ExportTraceServiceRequest``."""
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        {
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_id": span.parent_span_id.hex(),
                            "name": span.name,
                            "kind": span.kind,
                            "service": resource.get("service.name"),
                            "pid": resource.get("process.pid"),
                            "scope": scope_spans.scope.name,
                            "attributes": _attributes(span.attributes),
                        }
                    )

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def _attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in pairs:
        which = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, which) if which else None
    return out


@pytest.fixture
def collector() -> Iterator[Collector]:
    """An OTLP/HTTP collector on a free port."""
    col = Collector()
    yield col
    col.close()


class Kit:
    """The helpers above, for module-scoped fixtures that cannot use function-scoped ones."""

    LAUNCHER = LAUNCHER
    Stack = Stack
    Collector = Collector
    FakeLLM = FakeLLM
    Receiver = Receiver
    Drafts = Drafts
    clean_env = staticmethod(clean_env)
    run_task_flow = staticmethod(run_task_flow)
    thread_body = staticmethod(thread_body)


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    """:class:`Kit`."""
    return Kit
