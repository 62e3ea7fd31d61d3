"""A worker killed with SIGKILL halfway through: a new worker finishes, nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis

from necrostack import Event

from .conftest import MakeBackend, eventually

WORKER = Path(__file__).with_name("crash_worker.py")
TOTAL = 10_000
BATCH = 100


def _spawn(url: str, stream: str, key: str, until_idle: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NECROSTACK_CLAIM_IDLE_MS": "1000",
        "NECROSTACK_BATCH_SIZE": str(BATCH),
    }
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, stream, key, str(until_idle)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
async def test_sigkill_mid_run_then_new_worker_loses_nothing(
    redis_url: str,
    redis_key_prefix: str,
    make_backend: MakeBackend,
    redis_client: Redis,
    record_property: pytest.RecordProperty,
) -> None:
    producer = make_backend()
    handled_key = f"{redis_key_prefix}handled"
    for start in range(0, TOTAL, 1000):
        await producer.enqueue_many(
            Event(event_type="WORK", payload={"n": n}) for n in range(start, start + 1000)
        )

    first = _spawn(redis_url, producer.stream, handled_key, until_idle=60)
    try:

        async def halfway() -> bool:
            if first.poll() is not None:
                pytest.fail(f"worker exited early: {first.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            return int(await redis_client.llen(handled_key)) >= TOTAL // 2

        await eventually(halfway, seconds=120)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        first.stderr.close()  # type: ignore[union-attr]
    at_kill = int(await redis_client.llen(handled_key))
    assert at_kill < TOTAL, "the first worker finished before it could be killed"

    second = _spawn(redis_url, producer.stream, handled_key, until_idle=3)
    _, err = await asyncio.to_thread(second.communicate, None, 120)
    assert second.returncode == 0, err.decode()[-2000:]

    handled = [int(n) for n in await redis_client.lrange(handled_key, 0, -1)]
    duplicates = len(handled) - len(set(handled))
    record_property("handled_before_kill", at_kill)
    record_property("duplicates", duplicates)
    sys.stderr.write(f"\nkill -9 test: {at_kill} handled before SIGKILL, {duplicates} duplicates\n")
    assert set(handled) == set(range(TOTAL))  # every event handled at least once: none lost
    # Only events handled but not yet acked when the worker died run twice: at most one batch.
    assert duplicates <= BATCH
    assert (await redis_client.xpending(producer.stream, producer.group))["pending"] == 0
