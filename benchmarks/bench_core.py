"""platform_core: rendering one JSON log line vs a bare ``json.dumps`` of the same dict."""

from __future__ import annotations

import io
import json
import logging

from benchmarks.harness import Case, Harness
from platform_core.logging import build_formatter, get_logger


async def main(h: Harness) -> None:
    """Compare the full structlog + stdlib JSON pipeline with the floor."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter("json"))
    base = logging.getLogger("bench.core")
    base.handlers[:] = [handler]
    base.propagate = False
    base.setLevel(logging.INFO)
    log = get_logger("bench.core", service="bench")
    event = {"event_id": "5f0c", "event_type": "ORDER_PLACED", "organ": "Billing", "emitted": 2}

    def platform_line(n: int) -> None:
        for _ in range(n):
            log.info("event handled", **event)
        stream.seek(0)
        stream.truncate()

    def floor(n: int) -> None:
        for _ in range(n):
            stream.write(
                json.dumps(
                    {
                        "event": "event handled",
                        "service": "bench",
                        **event,
                        "level": "info",
                        "logger": "bench.core",
                        "timestamp": "2026-11-22T00:00:00.000000Z",
                    }
                )
                + "\n"
            )
        stream.seek(0)
        stream.truncate()

    await h.compare(
        "JSON log line (logger.info -> handler -> line)",
        Case("platform_core.logging", platform_line),
        Case("bare json.dumps", floor),
        ops=5000,
        goal="report (the floor does no level check, timestamp or context)",
    )
