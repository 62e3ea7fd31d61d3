"""Liveness and readiness: ``/health/live`` and ``/health/ready`` with registered checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter
from opentelemetry import metrics
from starlette.responses import JSONResponse

from platform_core.logging import get_logger

__all__ = ["CheckResult", "HealthCheck", "HealthRegistry", "HealthReport", "health_router"]

_log = get_logger(__name__)

CheckFn = Callable[[], Awaitable[Any]]
"""A check: an async callable that returns normally when healthy and raises when not."""


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """A registered readiness check.

    Attributes:
        name: Shown in the report.
        check: Async callable; returning ``False`` or raising means unhealthy.
        required: A failing required check makes the service unready (503); an optional one
            only makes it ``degraded`` (200).
        timeout: Seconds the check may take; the registry's default when ``None``.
    """

    name: str
    check: CheckFn
    required: bool = True
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    healthy: bool
    required: bool
    duration_ms: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HealthReport:
    """All check outcomes and the overall status."""

    status: Literal["healthy", "degraded", "unhealthy"]
    checks: list[CheckResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of ``/health/ready``."""
        return {
            "status": self.status,
            "checks": {
                c.name: {
                    "status": "pass" if c.healthy else "fail",
                    "required": c.required,
                    "duration_ms": c.duration_ms,
                    **({"error": c.error} if c.error else {}),
                }
                for c in self.checks
            },
        }


class HealthRegistry:
    """Holds readiness checks and runs them concurrently, each under its own timeout.

    Metrics (OpenTelemetry): histogram ``health.check.duration`` (seconds, by check and
    outcome) and counter ``health.check.status_changes`` (by check and new status).

    Args:
        default_timeout: Seconds a check may take unless it sets its own.
        meter_provider: Where metrics go; the global provider by default.
    """

    def __init__(self, default_timeout: float = 5.0, *, meter_provider: Any = None) -> None:
        self.default_timeout = default_timeout
        self._checks: dict[str, HealthCheck] = {}
        self._last: dict[str, bool] = {}
        meter = metrics.get_meter("api_core.health", meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            "health.check.duration", unit="s", description="Readiness check latency"
        )
        self._changes = meter.create_counter(
            "health.check.status_changes", description="Readiness check status transitions"
        )

    def add(
        self, name: str, check: CheckFn, *, required: bool = True, timeout: float | None = None
    ) -> None:
        """Register ``check`` under ``name`` (replacing a check of the same name)."""
        self._checks[name] = HealthCheck(name, check, required, timeout)

    @property
    def checks(self) -> list[HealthCheck]:
        """The registered checks in registration order."""
        return list(self._checks.values())

    async def _run(self, hc: HealthCheck) -> CheckResult:
        timeout = hc.timeout if hc.timeout is not None else self.default_timeout
        start = time.perf_counter()
        error: str | None = None
        try:
            outcome = await asyncio.wait_for(hc.check(), timeout)
            healthy = outcome is not False
            if not healthy:
                error = "check reported unhealthy"
        except TimeoutError:
            healthy, error = False, f"timed out after {timeout:g}s"
        except Exception as exc:
            healthy, error = False, f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - start
        attrs: dict[str, str | bool] = {"check": hc.name, "healthy": healthy}
        self._duration.record(elapsed, attrs)
        previous = self._last.get(hc.name)
        if previous is not None and previous != healthy:
            self._changes.add(1, {"check": hc.name, "status": "pass" if healthy else "fail"})
            _log.warning("health check changed", check=hc.name, healthy=healthy, error=error)
        self._last[hc.name] = healthy
        return CheckResult(hc.name, healthy, hc.required, round(elapsed * 1000, 3), error)

    async def run(self) -> HealthReport:
        """Run every check concurrently and summarise."""
        results = list(await asyncio.gather(*(self._run(c) for c in self._checks.values())))
        if any(not r.healthy and r.required for r in results):
            status: Literal["healthy", "degraded", "unhealthy"] = "unhealthy"
        elif any(not r.healthy for r in results):
            status = "degraded"
        else:
            status = "healthy"
        return HealthReport(status, results)


def health_router(registry: HealthRegistry) -> APIRouter:
    """Routes ``GET /health/live`` (always 200) and ``GET /health/ready`` (200 or 503)."""
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live", summary="Liveness probe")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/ready", summary="Readiness probe", responses={503: {"description": "Unready"}})
    async def ready() -> JSONResponse:
        report = await registry.run()
        code = 503 if report.status == "unhealthy" else 200
        return JSONResponse(report.to_dict(), status_code=code)

    return router
