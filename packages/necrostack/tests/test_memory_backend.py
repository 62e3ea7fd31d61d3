"""Properties 5, 11 and 12 of the seed, and the in-memory retry policy."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from necrostack import DeadLetter, Event, InMemoryBackend, Organ, Spine, load_backend

from .conftest import event_types


class _Named(Organ):
    listens_to: ClassVar[list[str]] = ["A"]

    def handle(self, event: Event) -> None:
        return None


@given(st.one_of(st.none(), st.text(max_size=20)))
def test_organ_name_defaults_to_class_name(name: str | None) -> None:
    """Property 5: the organ's name is the one given, or its class name."""
    organ = _Named(name) if name is not None else _Named()
    assert organ.name == (name if name is not None else "_Named")


@given(st.lists(event_types, min_size=1, max_size=30))
async def test_backend_is_fifo(types: list[str]) -> None:
    """Property 11: events come out in the order they went in."""
    backend = InMemoryBackend()
    events = [Event(event_type=t) for t in types]
    for event in events:
        await backend.enqueue(event)
    pulled = [await backend.pull(0.01) for _ in events]
    assert pulled == events


@settings(max_examples=10)
@given(st.floats(min_value=0.001, max_value=0.03))
async def test_pull_on_empty_backend_returns_none_after_timeout(wait: float) -> None:
    """Property 12: an empty backend returns None once the timeout passes."""
    backend = InMemoryBackend()
    start = time.monotonic()
    assert await backend.pull(wait) is None
    assert time.monotonic() - start >= wait * 0.9


async def test_failed_event_is_retried_then_dead_lettered() -> None:
    backend = InMemoryBackend(max_deliveries=3)
    event = Event(event_type="A")
    await backend.enqueue(event)
    for _ in range(3):
        pulled = await backend.pull(0.01)
        assert pulled == event
        await backend.nack(event, ValueError("boom"))
    assert await backend.pull(0.01) is None
    assert [(d.event, d.deliveries) for d in backend.dead_letters] == [(event, 3)]
    assert "boom" in backend.dead_letters[0].error


class _FailsFirst(Organ):
    listens_to: ClassVar[list[str]] = ["A"]

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    async def handle(self, event: Event) -> None:
        self.seen.append(event.id)
        if self.seen.count(event.id) == 1:
            raise ValueError("first delivery fails")


async def test_the_spine_acks_a_retried_event_so_its_failure_count_is_forgotten() -> None:
    backend = InMemoryBackend(max_deliveries=2)
    organ = _FailsFirst()
    spine = Spine([organ], backend)
    event = Event(event_type="A")
    await spine.run(event, until_idle=0)
    assert organ.seen == [event.id, event.id]
    assert not backend.ack_work  # the ack of the second delivery cleared the count
    assert backend.dead_letters == []
    organ.seen.clear()  # the same event again: a fresh count, so it is retried, not given up
    await spine.run(event, until_idle=0)
    assert organ.seen == [event.id, event.id]
    assert backend.dead_letters == []


class _AlwaysFails(Organ):
    listens_to: ClassVar[list[str]] = ["A"]

    def handle(self, event: Event) -> None:
        raise ValueError(f"cannot handle {event.payload['n']}")


async def test_dead_letter_hook_hears_of_each_event_given_up_on() -> None:
    heard: list[DeadLetter] = []

    async def hook(dead: DeadLetter) -> None:
        heard.append(dead)

    backend = InMemoryBackend(max_deliveries=2, on_dead_letter=hook)
    events = [Event(event_type="A", payload={"n": n}) for n in range(2)]
    for event in events:
        await backend.enqueue(event)
    await Spine([_AlwaysFails()], backend, poll_timeout=0.01).run(until_idle=0.05)
    assert [(d.event, d.deliveries) for d in heard] == [(e, 2) for e in events]
    assert "cannot handle 1" in heard[1].error
    assert heard == backend.dead_letters


async def test_a_failing_dead_letter_hook_is_logged_and_the_spine_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def hook(dead: DeadLetter) -> None:
        raise RuntimeError("the database is down too")

    backend = InMemoryBackend(max_deliveries=1, on_dead_letter=hook)
    for n in range(2):
        await backend.enqueue(Event(event_type="A", payload={"n": n}))
    spine = Spine([_AlwaysFails()], backend, poll_timeout=0.01)
    assert await spine.run(until_idle=0.05) == 2  # the hook's error did not stop the run
    assert len(backend.dead_letters) == 2
    failures = [r for r in caplog.records if "dead-letter hook failed" in str(r.msg)]
    assert len(failures) == 2
    assert "the database is down too" in str(failures[0].msg)


def test_backends_are_plugins() -> None:
    assert isinstance(load_backend("memory", max_deliveries=2), InMemoryBackend)
    with pytest.raises(Exception, match="installed: memory, redis"):
        load_backend("kafka")


# A pull waiting for an event gets it when it is enqueued; a lost wake-up would instead show
# as the pull running into this (long) timeout and returning None.
LONG = 10.0


async def test_waiting_pulls_are_woken_by_enqueue_in_order() -> None:
    backend = InMemoryBackend()
    first = asyncio.create_task(backend.pull(LONG))
    second = asyncio.create_task(backend.pull(LONG))
    await asyncio.sleep(0)  # both are now parked on an empty queue
    events = [Event(event_type="A"), Event(event_type="B")]
    for event in events:
        await backend.enqueue(event)
    assert await asyncio.wait_for(asyncio.gather(first, second), LONG / 2) == events
    assert backend.qsize() == 0


async def test_cancelled_waiter_passes_its_event_to_the_next_one() -> None:
    """A pull woken for an event but cancelled before taking it leaves the event to others."""
    backend = InMemoryBackend()
    doomed = asyncio.create_task(backend.pull(LONG))
    survivor = asyncio.create_task(backend.pull(LONG))
    await asyncio.sleep(0)
    event = Event(event_type="A")
    await backend.enqueue(event)  # wakes `doomed` first ...
    doomed.cancel()  # ... which is cancelled before it runs
    assert await asyncio.wait_for(survivor, LONG / 2) == event
    with pytest.raises(asyncio.CancelledError):
        await doomed


async def test_event_nacked_while_a_pull_waits_is_redelivered_to_it() -> None:
    backend = InMemoryBackend(max_deliveries=2)
    event = Event(event_type="A")
    await backend.enqueue(event)
    assert await backend.pull(0) == event
    waiting = asyncio.create_task(backend.pull(LONG))
    await asyncio.sleep(0)
    await backend.nack(event, ValueError("boom"))
    assert await asyncio.wait_for(waiting, LONG / 2) == event
