"""A local HTTP server that speaks the OpenAI chat-completions API, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` like an OpenAI-compatible endpoint, and can be told to
delay, hold requests until released, fail with a status code, or hang past the client timeout.
"""

from __future__ import annotations

import json
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
    hold: threading.Event | None = None
    raw_answer: bytes | None = None  # sent as the 200 body instead of a chat completion
    requests: list[dict[str, Any]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class OpenAIStub:
    """Serves the protocol on ``127.0.0.1`` at a free port; ``base_url`` ends with ``/v1``."""

    def __init__(self) -> None:
        self.script = Script()
        script = self.script

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle's algorithm on, the body waits
            # for the client's delayed ACK of the headers (~40 ms on Linux) on every request.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (timeout test); nothing left to answer

            def _send_raw(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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
                script.arrived.set()
                if script.hold is not None:
                    script.hold.wait(30)
                if script.delay:
                    time.sleep(script.delay)
                if script.raw_answer is not None:
                    self._send_raw(script.raw_answer)
                    return
                if status is not None:
                    self._send(
                        status,
                        {"error": {"message": f"scripted failure {status}", "type": "server"}},
                    )
                    return
                last = payload["messages"][-1]["content"]
                words = last.split()
                content = f"Draft {number}: reply to {len(words)} words"
                if "Feedback on the draft:" in last:
                    feedback = last.split("Feedback on the draft:", 1)[1].split("\n\n")[0]
                    content += f" revised per '{feedback.strip()}'"
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{number}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": payload.get("model", "stub-model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": len(words),
                            "completion_tokens": len(content.split()),
                            "total_tokens": len(words) + len(content.split()),
                        },
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
        """Release held requests and stop serving."""
        if self.script.hold is not None:
            self.script.hold.set()
        self._server.shutdown()
        self._server.server_close()
