"""Guarded handlers: plain handlers off the loop, timeouts, failure policies, shutdown grace,
statistics and unknown event types (in memory; the Redis side is in test_worker_processes)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, ClassVar

import pytest

from necrostack import (
    Event,
    HandlerTimeoutError,
    InMemoryBackend,
    Organ,
    ShutdownTimeoutError,
    Spine,
)
from necrostack.errors import OrganValidationError


class Blocking(Organ):
    """A plain handler that blocks its thread (time.sleep), recording where it ran."""

    listens_to: ClassVar[list[str]] = ["BLOCK"]

    def __init__(self, seconds: float, timeout: float | None = None) -> None:
        super().__init__()
        self.seconds = seconds
        self.timeout = timeout
        self.threads: list[threading.Thread] = []
        self.finished = threading.Event()

    def handle(self, event: Event) -> None:
        self.threads.append(threading.current_thread())
        time.sleep(self.seconds)
        self.finished.set()


class Sleeping(Organ):
    listens_to: ClassVar[list[str]] = ["SLEEP"]

    def __init__(self, seconds: float, timeout: float | None = None) -> None:
        super().__init__()
        self.seconds = seconds
        self.timeout = timeout
        self.cancelled = False

    async def handle(self, event: Event) -> None:
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_plain_handler_runs_off_the_loop_and_the_loop_keeps_going() -> None:
    organ = Blocking(0.3)
    backend = InMemoryBackend()
    spine = Spine([organ], backend, poll_timeout=0.01)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await spine.run(Event(event_type="BLOCK"), until_idle=0.05)
    finally:
        task.cancel()
    assert organ.threads
    assert organ.threads[0] is not threading.main_thread()
    assert ticks >= 10  # the loop ran while the handler slept in its thread
    assert spine.stats().handled == 1


async def test_async_handler_past_its_timeout_is_cancelled_and_the_event_nacked() -> None:
    organ = Sleeping(10, timeout=0.05)
    backend = InMemoryBackend(max_deliveries=1)
    spine = Spine([organ], backend, poll_timeout=0.01)
    started = time.monotonic()
    await spine.run(Event(event_type="SLEEP"), until_idle=0.05)
    assert time.monotonic() - started < 2
    assert organ.cancelled
    [dead] = backend.dead_letters
    assert "did not finish within its 0.05s timeout" in dead.error
    stats = spine.stats()
    assert (stats.failed, stats.timed_out, stats.dead_lettered, stats.handled) == (1, 1, 1, 0)
    assert stats.by_type["SLEEP"].dead_lettered == 1


async def test_plain_handler_past_its_timeout_is_abandoned_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    organ = Blocking(0.5)
    backend = InMemoryBackend(max_deliveries=1)
    spine = Spine([organ], backend, poll_timeout=0.01, handler_timeout=0.05)  # Spine default
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        await spine.run(Event(event_type="BLOCK"), until_idle=0.02)
    assert time.monotonic() - started < 0.45  # did not wait for the thread
    assert not organ.finished.is_set()
    assert "HandlerTimeoutError" in backend.dead_letters[0].error
    assert spine.stats().abandoned == 1
    assert "handler abandoned after its timeout" in caplog.text
    assert organ.finished.wait(2)  # the abandoned call ran to its end in its thread


class Failing(Organ):
    listens_to: ClassVar[list[str]] = ["E"]

    def __init__(self, on_failure: Any) -> None:
        super().__init__()
        self.on_failure = on_failure

    async def handle(self, event: Event) -> Event:
        raise RuntimeError("broken organ")


class Recording(Organ):
    listens_to: ClassVar[list[str]] = ["E"]

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    async def handle(self, event: Event) -> Event:
        self.seen.append(event.id)
        return Event(event_type="CHILD")


@pytest.mark.parametrize(("policy", "runs_after"), [("stop", False), ("continue", True)])
async def test_failure_policy_decides_whether_later_organs_run(
    policy: str, runs_after: bool
) -> None:
    after = Recording()
    backend = InMemoryBackend(max_deliveries=1)
    spine = Spine([Failing(policy), after], backend, poll_timeout=0.01)
    event = Event(event_type="E")
    await spine.run(event, until_idle=0.02)
    assert after.seen == ([event.id] if runs_after else [])
    # Either way the event failed: nacked once, nothing that was returned is enqueued.
    assert [d.event for d in backend.dead_letters] == [event]
    assert backend.qsize() == 0
    assert spine.stats().failed == 1


def test_bad_policy_or_timeout_is_refused_naming_the_organ() -> None:
    with pytest.raises(OrganValidationError, match=r"Failing.*on_failure"):
        Spine([Failing("ignore")], InMemoryBackend())
    organ = Sleeping(1, timeout=-1)
    with pytest.raises(OrganValidationError, match=r"Sleeping.*timeout"):
        Spine([organ], InMemoryBackend())


@pytest.mark.parametrize("kind", ["async", "plain"])
async def test_shutdown_waits_for_the_event_in_hand_then_nacks_it_past_the_grace(
    kind: str,
) -> None:
    organ: Organ = Sleeping(10) if kind == "async" else Blocking(1.0)
    backend = InMemoryBackend()
    spine = Spine([organ], backend, poll_timeout=0.01, shutdown_timeout=0.2)
    event = Event(event_type="SLEEP" if kind == "async" else "BLOCK")
    await backend.enqueue(event)
    task = asyncio.create_task(spine.run())
    await asyncio.sleep(0.1)  # the handler is running
    spine.stop()
    started = time.monotonic()
    assert await asyncio.wait_for(task, 5) == 1
    assert 0.1 < time.monotonic() - started < 0.8  # waited for the grace period, no longer
    assert await backend.pull(0) == event  # nacked: back in the queue for the next worker
    stats = spine.stats()
    assert (stats.failed, stats.retried, stats.in_flight) == (1, 1, 0)
    assert stats.abandoned == (1 if kind == "plain" else 0)


async def test_shutdown_within_the_grace_lets_the_handler_finish_and_acks() -> None:
    organ = Sleeping(0.1)
    backend = InMemoryBackend()
    spine = Spine([organ], backend, poll_timeout=0.01, shutdown_timeout=5)
    await backend.enqueue(Event(event_type="SLEEP"))
    task = asyncio.create_task(spine.run())
    await asyncio.sleep(0.02)
    spine.stop()
    assert await asyncio.wait_for(task, 5) == 1
    assert not organ.cancelled
    assert spine.stats().handled == 1
    assert backend.qsize() == 0


def test_shutdown_timeout_error_names_the_organ() -> None:
    assert "'Slow'" in str(ShutdownTimeoutError("Slow", 3))
    assert isinstance(HandlerTimeoutError("Slow", 1), TimeoutError)


async def test_unknown_types_are_counted_and_logged_once_per_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = InMemoryBackend()
    spine = Spine([Recording()], backend, poll_timeout=0.01)
    for t in ("NOPE", "NOPE", "NADA"):
        await backend.enqueue(Event(event_type=t))
    with caplog.at_level(logging.WARNING, logger="necrostack.spine"):
        await spine.run(until_idle=0.02)
    stats = spine.stats()
    assert stats.unknown == 3
    assert stats.unknown_types == {"NOPE": 2, "NADA": 1}
    assert caplog.text.count("no organ listens to this event type") == 2
    assert backend.dead_letters == []


async def test_unknown_types_can_be_dead_lettered() -> None:
    backend = InMemoryBackend()
    spine = Spine([Recording()], backend, poll_timeout=0.01, unknown_events="dead_letter")
    event = Event(event_type="NOPE")
    await spine.run(event, until_idle=0.02)
    [dead] = backend.dead_letters
    assert dead.event == event
    assert "no organ listens" in dead.error
    assert spine.stats().dead_lettered == 1


def test_dead_lettering_unknown_types_needs_a_backend_that_can() -> None:
    class Bare:
        async def enqueue(self, event: Event) -> None: ...

    with pytest.raises(ValueError, match="dead_letter"):
        Spine([], Bare(), unknown_events="dead_letter")  # type: ignore[arg-type]


async def test_stats_count_per_type_and_include_backend_health() -> None:
    backend = InMemoryBackend(max_deliveries=2)
    spine = Spine([Recording(), Failing("stop")], backend, poll_timeout=0.01)
    await spine.run(Event(event_type="E"), until_idle=0.05)
    stats = spine.stats()
    # E fails twice: retried once, then dead-lettered.
    assert stats.by_type["E"].failed == 2
    assert stats.by_type["E"].retried == 1
    assert stats.by_type["E"].dead_lettered == 1
    assert (stats.retried, stats.dead_lettered, stats.handled) == (1, 1, 0)
    assert stats.backend is not None
    assert stats.backend["status"] == "ok"
