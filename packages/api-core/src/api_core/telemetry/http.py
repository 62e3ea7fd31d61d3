"""HTTP server and client instrumentation built on the official OpenTelemetry packages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

__all__ = ["instrument_app", "instrument_httpx_client"]


def instrument_app(
    app: FastAPI,
    *,
    excluded_paths: Iterable[str] = (),
    tracer_provider: Any = None,
    meter_provider: Any = None,
) -> None:
    """Add server spans (named ``METHOD /route/{template}``) and HTTP metrics to ``app``.

    Args:
        app: The FastAPI app.
        excluded_paths: Paths that get no spans (health probes).
        tracer_provider: Defaults to the global provider.
        meter_provider: Defaults to the global provider.
    """
    # The instrumentation searches these regexes in the full URL, so anchor on the path end.
    excluded = ",".join(rf"{re.escape(p)}(\?|$)" for p in excluded_paths) or None
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=excluded,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )


def instrument_httpx_client(client: Any, *, tracer_provider: Any = None) -> None:
    """Propagate trace context (W3C ``traceparent``) and record client spans on ``client``.

    Args:
        client: An ``httpx.AsyncClient`` or ``httpx.Client``.
        tracer_provider: Defaults to the global provider.
    """
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=tracer_provider)
