"""Visibility: backend health and the circuit breaker, OpenTelemetry metrics, the stats
command per group, and the message when the redis extra is missing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from necrostack import Event, InMemoryBackend, Organ, Spine, _metrics
from necrostack.cli import main
from platform_core.errors import DependencyUnavailableError
from platform_core.testing import PrivateRedis

from .conftest import MakeBackend


async def test_health_and_the_circuit_breaker_through_an_outage(
    private_redis: PrivateRedis, make_backend: MakeBackend
) -> None:
    backend = make_backend(url=private_redis.url, reconnect_timeout=1.0)
    assert await backend.pull(0.01) is None
    healthy = await backend.health()
    assert healthy["status"] == "ok"
    assert healthy["circuit"]["state"] == "closed"
    assert healthy["ping_ms"] >= 0
    private_redis.stop()
    with pytest.raises(DependencyUnavailableError):
        await backend.pull(0.01)
    snapshot = backend.health_snapshot()
    assert snapshot["circuit"]["state"] in ("open", "half_open")
    assert snapshot["circuit"]["consecutive_failures"] >= 3
    assert "Error" in snapshot["circuit"]["last_error"]
    assert (await backend.health())["status"] == "down"
    # While open, a call that cannot wait for the backoff fails at once.
    backend.breaker.retry_at += 60
    with pytest.raises(DependencyUnavailableError, match="circuit is open"):
        await backend.enqueue(Event(event_type="X"))
    backend.breaker.retry_at -= 60
    private_redis.start()
    await backend.enqueue(Event(event_type="X"))  # the probe succeeds: closed again
    assert backend.health_snapshot()["circuit"]["state"] == "closed"
    assert backend.health_snapshot()["circuit"]["opened_total"] >= 1


class Half(Organ):
    listens_to: ClassVar[list[str]] = ["A", "B"]

    async def handle(self, event: Event) -> None:
        if event.event_type == "B":
            raise RuntimeError("B fails")


async def test_metrics_count_outcomes_and_time_handling(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    monkeypatch.setattr(_metrics, "_metrics", _metrics.Metrics(
        MeterProvider(metric_readers=[reader]).get_meter("necrostack")
    ))  # fmt: skip
    backend = InMemoryBackend(max_deliveries=2)
    spine = Spine([Half()], backend, poll_timeout=0.01)
    await backend.enqueue(Event(event_type="A"))
    await spine.run(Event(event_type="B"), until_idle=0.05)
    found: dict[str, Any] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                found[metric.name] = list(metric.data.data_points)
    outcomes = {
        (p.attributes["event_type"], p.attributes["outcome"]): p.value
        for p in found["necrostack.events"]
    }
    assert outcomes == {
        ("A", "handled"): 1,
        ("B", "failed"): 2,
        ("B", "retried"): 1,
        ("B", "dead_letter"): 1,
    }
    assert sum(p.count for p in found["necrostack.handling.duration"]) == 3


async def test_pending_and_lag_gauges_per_stream_and_group(make_backend: MakeBackend) -> None:
    backend = make_backend(claim_idle_ms=50)
    await backend.enqueue_many(Event(event_type="X") for _ in range(3))
    event = await backend.pull(1)
    assert event is not None
    await backend._read_gauges()
    [(stream, group, pending, lag)] = backend.gauge_values()
    assert (stream, group) == (backend.stream, backend.group)
    assert pending == 3  # the whole batch was read
    assert lag == 0


def test_stats_json_lists_lag_pending_and_dead_letters_per_group(
    redis_url: str, redis_key_prefix: str
) -> None:
    stream = f"{redis_key_prefix}vis"

    async def setup() -> None:
        from necrostack.backends.redis import RedisBackend
        from platform_core.redis import RedisSettings

        for group in ("billing", "audit"):
            backend = RedisBackend(
                redis_settings=RedisSettings(url=redis_url), stream=stream, group=group
            )
            assert await backend.pull(0) is None
            await backend.close()
        producer = RedisBackend(redis_settings=RedisSettings(url=redis_url), stream=stream)
        await producer.enqueue_many(Event(event_type="X") for _ in range(4))
        await producer.close()

    asyncio.run(setup())
    runner = CliRunner(env={"REDIS_URL": redis_url, "NECROSTACK_STREAM": stream})
    result = runner.invoke(main, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    groups = {g["group"]: g for g in stats["groups"]}
    assert set(groups) == {"billing", "audit"}
    assert groups["audit"]["lag"] == 4
    assert groups["audit"]["pending"] == 0
    table = runner.invoke(main, ["stats"])
    assert "billing" in table.output
    assert "dead letters" in table.output


@pytest.mark.parametrize("args", [["stats"], ["run", "seance", "--backend", "redis"]])
def test_missing_redis_extra_prints_the_pip_command(args: list[str]) -> None:
    code = (
        "import sys; sys.modules['redis'] = None\n"  # as if necrostack[redis] were not installed
        "from necrostack.cli import main\n"
        f"main({args!r})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "pip install 'necrostack[redis]'" in done.stderr
    assert "Traceback" not in done.stderr
