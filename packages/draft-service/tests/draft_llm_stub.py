"""A local HTTP server that speaks the OpenAI chat-completions API, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` (plain JSON, or Server-Sent Events when the request
asks for ``"stream": true``) and ``GET /v1/models`` like an OpenAI-compatible endpoint. A
:class:`Script` tells it to delay, hold requests until released, fail with a status code (429
with ``Retry-After``), answer with scripted texts or finish reasons (``length``), echo the
transcript, stall in the middle of a stream, or cut a stream. It records every request and
every stream the client closed before the end (``closed``), which is how tests see that a
discarded job stopped the generation.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    """How the server behaves; change it between requests."""

    delay: float = 0.0
    failures: deque[int] = field(default_factory=deque)
    always_status: int | None = None
    retry_after: str | None = None  # sent with 429/503 answers
    hold: threading.Event | None = None
    raw_answer: bytes | None = None  # sent as the 200 body instead of a chat completion
    answers: deque[str] = field(default_factory=deque)  # texts to answer, in order
    finish_reasons: deque[str] = field(default_factory=deque)  # e.g. "length", in order
    echo: bool = False  # answer with the transcript's lines
    token_delay: float = 0.0  # seconds between streamed chunks
    stall: threading.Event | None = None  # streams pause after the first chunk until set
    cut_streams: int = 0  # this many streams end abruptly after the first chunk
    models: list[str] = field(default_factory=lambda: ["stub/model-1"])
    serial: bool = False  # answer one request at a time, like a single llama.cpp slot
    # serial: how long the last answer took past ``delay`` (writing its stream); the next one
    # waits that much less, so a slot takes ``delay`` in all, as an LLM answering in ``delay``
    slot_extra: float = 0.0
    # Stream with chunked encoding on a connection kept open, as OpenAI-compatible servers do
    # (by default a stream ends by closing its connection: each call then connects anew).
    keep_alive: bool = False
    connections: int = 0  # connections accepted
    generating: threading.Lock = field(default_factory=threading.Lock)
    requests: list[dict[str, Any]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    closed: list[int] = field(default_factory=list)  # request numbers the client hung up on
    closed_at: dict[int, float] = field(default_factory=dict)  # time.monotonic() of the hang-up
    closed_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _reply(script: Script, number: int, payload: dict[str, Any]) -> str:
    if script.answers:
        return script.answers.popleft()
    last = payload["messages"][-1]["content"]
    if script.echo:
        return "\n".join(line for line in last.splitlines() if line.startswith("["))
    content = f"Draft {number}: reply to {len(last.split())} words"
    if "Feedback on the draft:" in last:
        feedback = last.split("Feedback on the draft:", 1)[1].split("\n\n")[0]
        content += f" revised per '{feedback.strip()}'"
    return content


def _hung_up(sock: socket.socket) -> bool:
    """Whether the peer closed its end (readable with nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class OpenAIStub:
    """Serves the protocol on ``127.0.0.1`` at ``port`` (a free one by default); ``base_url``
    ends with ``/v1``."""

    def __init__(self, port: int = 0) -> None:
        self.script = Script()
        script = self.script

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle's algorithm on, the body waits
            # for the client's delayed ACK of the headers (~40 ms on Linux) on every request.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                with script.lock:
                    script.connections += 1

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status in (429, 503) and script.retry_after is not None:
                        self.send_header("Retry-After", script.retry_after)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (timeout test); nothing left to answer

            def _send_raw(self, data: bytes) -> None:
                self.send_response(200)
                kind = "text/event-stream" if data.startswith(b"data:") else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/stats":
                    self._send(200, {"requests": len(script.requests), "closed": script.closed})
                    return
                if self.path != "/v1/models":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                data = [{"id": m, "object": "model", "owned_by": "stub"} for m in script.models]
                self._send(200, {"object": "list", "data": data})

            def _hang_up_seen(self, number: int) -> None:
                self.close_connection = True
                with script.lock:
                    script.closed.append(number)
                    script.closed_at[number] = time.monotonic()
                script.closed_event.set()

            def _stream(self, number: int, content: str, finish: str, cut: bool) -> None:
                chunked = script.keep_alive and not cut
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()

                def frame(text: str) -> bytes:
                    data = text.encode()
                    return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

                words = content.split(" ")
                pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
                for i, piece in enumerate(pieces):
                    if _hung_up(self.connection):
                        self._hang_up_seen(number)
                        return
                    chunk = {
                        "id": f"chatcmpl-{number}",
                        "object": "chat.completion.chunk",
                        "model": "stub-served-model",
                        "choices": [{"index": 0, "delta": {"content": piece}}],
                    }
                    try:
                        self.wfile.write(frame(f"data: {json.dumps(chunk)}\n\n"))
                        self.wfile.flush()
                    except OSError:
                        self._hang_up_seen(number)
                        return
                    if i == 0 and cut:
                        return  # the connection closes without [DONE]
                    if i == 0 and script.stall is not None:
                        while not script.stall.wait(0.005):
                            if _hung_up(self.connection):
                                self._hang_up_seen(number)
                                return
                    if script.token_delay:
                        end = time.monotonic() + script.token_delay
                        while time.monotonic() < end:
                            if _hung_up(self.connection):
                                self._hang_up_seen(number)
                                return
                            time.sleep(min(0.005, script.token_delay))
                tail = {
                    "id": f"chatcmpl-{number}",
                    "object": "chat.completion.chunk",
                    "model": "stub-served-model",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": len(words)},
                }
                try:
                    self.wfile.write(frame(f"data: {json.dumps(tail)}\n\ndata: [DONE]\n\n"))
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:
                    self._hang_up_seen(number)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with script.lock:
                    script.requests.append(payload)
                    number = len(script.requests)
                    status = script.failures.popleft() if script.failures else None
                    status = status or script.always_status
                    finish = script.finish_reasons.popleft() if script.finish_reasons else "stop"
                    cut = script.cut_streams > 0 and status is None
                    if cut:
                        script.cut_streams -= 1
                script.arrived.set()
                if script.serial:
                    with script.generating:
                        began = time.monotonic()
                        self._answer(number, payload, status, finish, cut, script.slot_extra)
                        script.slot_extra = max(0.0, time.monotonic() - began - script.delay)
                else:
                    self._answer(number, payload, status, finish, cut)

            def _answer(
                self,
                number: int,
                payload: dict[str, Any],
                status: int | None,
                finish: str,
                cut: bool,
                spent: float = 0.0,
            ) -> None:
                if script.hold is not None:
                    script.hold.wait(30)
                if script.delay > spent:
                    time.sleep(script.delay - spent)
                if script.raw_answer is not None:
                    self._send_raw(script.raw_answer)
                    return
                if status is not None:
                    self._send(
                        status,
                        {"error": {"message": f"scripted failure {status}", "type": "server"}},
                    )
                    return
                content = _reply(script, number, payload)
                if payload.get("stream"):
                    self._stream(number, content, finish, cut)
                    return
                last = payload["messages"][-1]["content"]
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{number}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": "stub-served-model",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": finish,
                            }
                        ],
                        "usage": {
                            "prompt_tokens": len(last.split()),
                            "completion_tokens": len(content.split()),
                            "total_tokens": len(last.split()) + len(content.split()),
                        },
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The API root to give the client."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> OpenAIStub:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held and stalled requests and stop serving."""
        for event in (self.script.hold, self.script.stall):
            if event is not None:
                event.set()
        self._server.shutdown()
        self._server.server_close()
