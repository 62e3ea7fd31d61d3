"""A lean HTTP/1.1 load generator, run in its own process so the client never shares the
server's interpreter or event loop.

Each of ``--connections`` keep-alive connections sends its next request as soon as the
previous response is read (closed loop). With ``--rate`` the requests are instead scheduled
at a fixed total rate and each latency counts from the *scheduled* send time, so a stalled
server cannot hide its queueing delay (no coordinated omission).

The request body is a template: every ``{n}`` becomes a number unique to the request, so
each POST creates something new. Responses must carry ``Content-Length`` (chunked bodies
are read too). The result is one JSON object on stdout::

    python -m benchmarks.loadgen --url http://127.0.0.1:8000/items --method POST \
        --body '{"name": "item-{n}"}' --header 'Authorization: Bearer k' \
        --connections 64 --requests 4096
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LoadResult", "main", "measure", "run_load"]


@dataclass
class LoadResult:
    """Latencies (seconds) of the answered requests and how the others ended."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def summary(self) -> dict[str, object]:
        """Counts, rate and the latency percentiles in milliseconds."""
        lat = sorted(self.latencies)

        def pct(q: float) -> float:
            return round(lat[min(len(lat) - 1, int(len(lat) * q))] * 1e3, 3) if lat else 0.0

        return {
            "requests": len(lat),
            "elapsed_s": round(self.elapsed, 3),
            "rps": round(len(lat) / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": round(statistics.median(lat) * 1e3, 3) if lat else 0.0,
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": round(lat[-1] * 1e3, 3) if lat else 0.0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
        }


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response; returns its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        await reader.readexactly(int(lower[at + 17 : end]))
    elif b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


def _request_bytes(method: str, host: str, path: str, headers: list[str], body: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body.encode())}"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


async def run_load(
    url: str,
    *,
    method: str = "GET",
    body: str = "",
    headers: list[str] | None = None,
    connections: int = 64,
    requests: int = 1000,
    rate: float | None = None,
    start_at: int = 0,
) -> LoadResult:
    """Send ``requests`` requests over ``connections`` connections; see the module doc."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    result = LoadResult()
    counter = iter(range(start_at, start_at + requests))
    started = time.perf_counter()
    interval = 1.0 / rate if rate else 0.0

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for n in counter:
                text = body.replace("{n}", str(n)) if body else ""
                payload = _request_bytes(method, f"{host}:{port}", path, headers or [], text)
                sent = time.perf_counter()
                if interval:
                    sent = started + (n - start_at) * interval
                    delay = sent - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                try:
                    writer.write(payload)
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    name = type(exc).__name__
                    result.errors[name] = result.errors.get(name, 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                result.latencies.append(time.perf_counter() - sent)
                result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    result.elapsed = time.perf_counter() - started
    return result


async def measure(
    url: str,
    *,
    method: str = "GET",
    body: str = "",
    headers: list[str] | None = None,
    connections: int = 64,
    requests: int = 1000,
    rate: float | None = None,
    start_at: int = 0,
) -> dict[str, Any]:
    """Run one load in a separate ``python -m benchmarks.loadgen`` process; its summary."""
    args = [
        sys.executable,
        "-m",
        "benchmarks.loadgen",
        "--url",
        url,
        "--method",
        method,
        "--connections",
        str(connections),
        "--requests",
        str(requests),
        "--start-at",
        str(start_at),
    ]
    if body:
        args += ["--body", body]
    for header in headers or []:
        args += ["--header", header]
    if rate:
        args += ["--rate", str(rate)]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen failed ({proc.returncode}): {err.decode()[-2000:]}")
    summary: dict[str, Any] = json.loads(out)
    return summary


def main(argv: list[str] | None = None) -> None:
    """Command line: run one load and print its summary as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen")
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--start-at", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(
        run_load(
            args.url,
            method=args.method,
            body=args.body,
            headers=args.header,
            connections=args.connections,
            requests=args.requests,
            rate=args.rate,
            start_at=args.start_at,
        )
    )
    json.dump(result.summary(), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
