"""Properties 6-10 and 13 of the seed, the no-buffer invariant, logging and stop."""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from necrostack import (
    CAUSATION_ID,
    TRACEPARENT,
    Event,
    InMemoryBackend,
    Organ,
    OrganValidationError,
    Spine,
)

from .conftest import event_types


class Recorder(Organ):
    """Records what it saw into a shared journal; emits nothing."""

    def __init__(self, listens: list[str], journal: list[tuple[str, str]], name: str) -> None:
        super().__init__(name)
        self.listens_to = listens  # type: ignore[misc]
        self.journal = journal

    def handle(self, event: Event) -> None:
        self.journal.append((self.name, event.id))


class AsyncRecorder(Recorder):
    async def handle(self, event: Event) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.journal.append((self.name, event.id))


@given(bad=st.lists(st.one_of(st.integers(), st.none(), st.binary(), st.floats()), min_size=1))
def test_listens_to_with_non_strings_is_rejected_naming_the_organ(bad: list[Any]) -> None:
    """Property 6: listens_to holding anything but strings fails at Spine construction."""
    organ = Recorder(["OK", *bad], [], "Haunted")
    with pytest.raises(OrganValidationError, match="Haunted") as info:
        Spine([organ], InMemoryBackend())
    assert isinstance(info.value, TypeError)


@given(
    listens=st.lists(st.lists(st.sampled_from("ABCD"), max_size=3), min_size=1, max_size=4),
    types=st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=8),
)
async def test_each_event_reaches_exactly_the_listening_organs(
    listens: list[list[str]], types: list[str]
) -> None:
    """Property 7: an event goes to every organ that listens to its type and to no other."""
    journal: list[tuple[str, str]] = []
    organs = [Recorder(lst, journal, f"o{i}") for i, lst in enumerate(listens)]
    spine = Spine(organs, InMemoryBackend(), poll_timeout=0.01)
    events = [Event(event_type=t) for t in types]
    for event in events:
        await spine.backend.enqueue(event)
    await spine.run(until_idle=0.02)
    expected = [(o.name, e.id) for e in events for o in organs if e.event_type in o.listens_to]
    assert journal == expected


class Fanout(Organ):
    listens_to: ClassVar[list[str]] = ["ROOT"]

    def __init__(self, children: list[str]) -> None:
        super().__init__()
        self.children = children

    def handle(self, event: Event) -> list[Event]:
        return [Event(event_type=t) for t in self.children]


class EnqueueJournal(InMemoryBackend):
    """The in-memory backend, remembering every event enqueued to it."""

    def __init__(self) -> None:
        super().__init__()
        self.enqueued: list[Event] = []

    async def enqueue(self, event: Event) -> None:
        self.enqueued.append(event)
        await super().enqueue(event)


@given(children=st.lists(event_types.filter(lambda t: t != "ROOT"), max_size=6))
async def test_returned_events_are_enqueued(children: list[str]) -> None:
    """Property 8: every event a handler returns is enqueued to the backend, in order."""
    backend = EnqueueJournal()
    spine = Spine([Fanout(children)], backend, poll_timeout=0.01)
    root = Event(event_type="ROOT")
    await spine.run(root, until_idle=0.02)
    assert [e.event_type for e in backend.enqueued] == ["ROOT", *children]
    assert spine.steps == 1 + len(children)


@given(n=st.integers(min_value=1, max_value=6))
async def test_organs_run_in_registration_order(n: int) -> None:
    """Property 9: organs listening to the same type run in registration order."""
    journal: list[tuple[str, str]] = []
    organs = [(AsyncRecorder if i % 2 else Recorder)(["T"], journal, f"o{i}") for i in range(n)]
    spine = Spine(organs, InMemoryBackend(), poll_timeout=0.01)
    await spine.run(Event(event_type="T"), until_idle=0.02)
    assert [name for name, _ in journal] == [f"o{i}" for i in range(n)]


async def test_events_of_several_organs_are_enqueued_in_registration_order() -> None:
    """Two organs emitting for the same event: the first organ's events go in first."""
    backend = EnqueueJournal()

    class Pair(Fanout):
        listens_to: ClassVar[list[str]] = ["ROOT"]

    spine = Spine([Fanout(["X1", "X2"]), Pair(["Y1"])], backend, poll_timeout=0.01)
    await spine.run(Event(event_type="ROOT"), until_idle=0.02)
    assert [e.event_type for e in backend.enqueued] == ["ROOT", "X1", "X2", "Y1"]
    assert spine.steps == 4


class Loop(Organ):
    listens_to: ClassVar[list[str]] = ["PING"]

    def handle(self, event: Event) -> Event:
        return Event(event_type="PING")


@given(max_steps=st.integers(min_value=1, max_value=40))
async def test_max_steps_is_enforced(max_steps: int) -> None:
    """Property 10: an endless chain stops with RuntimeError after max_steps events."""
    spine = Spine([Loop()], InMemoryBackend(), max_steps=max_steps, poll_timeout=0.01)
    with pytest.raises(RuntimeError, match=r"^Max steps exceeded$"):
        await spine.run(Event(event_type="PING"), until_idle=1)
    assert spine.steps == max_steps


async def test_exactly_max_steps_events_do_not_raise() -> None:
    spine = Spine([Fanout(["X", "Y"])], InMemoryBackend(), max_steps=3, poll_timeout=0.01)
    assert await spine.run(Event(event_type="ROOT"), until_idle=0.02) == 3


class SyncChain(Organ):
    listens_to: ClassVar[list[str]] = ["A"]

    def handle(self, event: Event) -> Event:
        return Event(event_type="B", payload={"n": event.payload["n"] + 1})


class AsyncChain(Organ):
    listens_to: ClassVar[list[str]] = ["B"]

    def __init__(self, seen: list[int]) -> None:
        super().__init__()
        self.seen = seen

    async def handle(self, event: Event) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.seen.append(event.payload["n"])


class AwaitableReturner(Organ):
    """A plain method that returns an awaitable (e.g. a coroutine from a helper)."""

    listens_to: ClassVar[list[str]] = ["C"]

    async def _later(self, event: Event) -> Event:
        return Event(event_type="B", payload={"n": event.payload["n"] * 10})

    def handle(self, event: Event) -> Any:
        return self._later(event)


@given(n=st.integers(-1000, 1000))
async def test_sync_and_async_handlers_both_work(n: int) -> None:
    """Property 13: sync handlers, async handlers and returned awaitables all dispatch."""
    seen: list[int] = []
    spine = Spine(
        [SyncChain(), AsyncChain(seen), AwaitableReturner()], InMemoryBackend(), poll_timeout=0.01
    )
    await spine.backend.enqueue(Event(event_type="A", payload={"n": n}))
    await spine.backend.enqueue(Event(event_type="C", payload={"n": n}))
    await spine.run(until_idle=0.02)
    assert seen == [n + 1, n * 10]


async def test_spine_holds_no_event_buffer() -> None:
    """The Spine keeps no queue of its own: after a run, none of its attributes is a
    mutable container or holds an Event; the routing table maps types to organs only."""
    spine = Spine([Fanout(["X", "Y"])], InMemoryBackend(), poll_timeout=0.01)
    await spine.run(Event(event_type="ROOT"), until_idle=0.02)
    mutable = (list, collections.deque, asyncio.Queue, dict, set, bytearray)
    for name, value in vars(spine).items():
        assert not isinstance(value, mutable), f"Spine.{name} is a {type(value).__name__}"
        assert not isinstance(value, Event), f"Spine.{name} holds an event"
    assert all(isinstance(o, Organ) for o in spine.organs)
    routes = vars(spine)["_routes"]
    assert all(isinstance(o, Organ) for organs in routes.values() for o in organs)


async def test_spine_pulls_from_backend_and_keeps_nothing_between_events() -> None:
    backend = InMemoryBackend()
    spine = Spine([Fanout(["X"] * 5)], backend, poll_timeout=0.01)
    await backend.enqueue(Event(event_type="ROOT"))
    event = await backend.pull(0.01)
    assert event is not None
    emitted = await spine.dispatch(event)
    assert backend.qsize() == 5
    assert len(emitted) == 5
    assert not any(isinstance(v, list) for v in vars(spine).values())


class Boom(Organ):
    listens_to: ClassVar[list[str]] = ["A"]

    def handle(self, event: Event) -> Event:
        raise ValueError("spirit refused")


async def test_failing_handler_is_logged_retried_and_dead_lettered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal: list[tuple[str, str]] = []
    backend = InMemoryBackend(max_deliveries=2)
    spine = Spine(
        [Fanout(["A"]), Boom(), Recorder(["A"], journal, "after")], backend, poll_timeout=0.01
    )
    caplog.set_level(logging.INFO, logger="necrostack")
    await spine.run(Event(event_type="ROOT"), until_idle=0.05)
    assert journal == []  # the organ after the failing one never saw the event
    assert len(backend.dead_letters) == 1
    assert backend.dead_letters[0].deliveries == 2
    failures = [
        r.msg
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "handler failed"
    ]
    assert len(failures) == 2
    assert failures[0]["organ"] == "Boom"
    assert failures[0]["event_type"] == "A"
    assert failures[0]["event_id"] == backend.dead_letters[0].event.id


async def test_dispatch_logs_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    """Smoke test of the log shape for one dispatch with an async handler."""
    caplog.set_level(logging.INFO, logger="necrostack")
    seen: list[int] = []
    spine = Spine([SyncChain(), AsyncChain(seen)], InMemoryBackend(), poll_timeout=0.01)
    start = Event(event_type="A", payload={"n": 1})
    await spine.run(start, until_idle=0.02)
    handled = [
        r.msg
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "event handled"
    ]
    assert handled[0]["event_id"] == start.id
    assert handled[0]["event_type"] == "A"
    assert handled[0]["organ"] == "SyncChain"
    assert handled[0]["emitted"] == 1
    assert handled[1]["organ"] == "AsyncChain"
    assert handled[1]["emitted"] == 0


class Child(Organ):
    listens_to: ClassVar[list[str]] = ["P"]

    def handle(self, event: Event) -> Event:
        return Event(event_type="Q")


class Sink(Organ):
    listens_to: ClassVar[list[str]] = ["Q"]

    def __init__(self, got: list[Event]) -> None:
        super().__init__()
        self.got = got

    def handle(self, event: Event) -> None:
        self.got.append(event)


async def test_emitted_events_carry_causation_and_trace_context() -> None:
    got: list[Event] = []
    spine = Spine([Child(), Sink(got)], InMemoryBackend(), poll_timeout=0.01)
    parent = Event(
        event_type="P", metadata={TRACEPARENT: "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
    )
    await spine.run(parent, until_idle=0.02)
    assert got[0].metadata[CAUSATION_ID] == parent.id
    # Same trace; the span part is the parent's own without a tracer provider, and the
    # child's publish span when one is installed (see test_tracing.py).
    assert got[0].metadata[TRACEPARENT].split("-")[1] == "a" * 32


class Slow(Organ):
    listens_to: ClassVar[list[str]] = ["S"]

    def __init__(self, spine_ref: list[Spine], done: list[str]) -> None:
        super().__init__()
        self.spine_ref = spine_ref
        self.done = done

    async def handle(self, event: Event) -> None:
        self.spine_ref[0].stop()
        await asyncio.sleep(0.02)
        self.done.append(event.id)


async def test_stop_finishes_the_event_in_hand_and_acks_it() -> None:
    done: list[str] = []
    ref: list[Spine] = []
    backend = InMemoryBackend()
    spine = Spine([Slow(ref, done)], backend, poll_timeout=0.01)
    ref.append(spine)
    first, second = Event(event_type="S"), Event(event_type="S")
    await backend.enqueue(first)
    await backend.enqueue(second)
    assert await spine.run() == 1
    assert done == [first.id]
    assert await backend.pull(0.01) == second


class Stopper(Organ):
    listens_to: ClassVar[list[str]] = ["B"]

    def __init__(self, ref: list[Spine]) -> None:
        super().__init__()
        self.ref = ref

    def handle(self, event: Event) -> None:
        self.ref[0].stop()


async def test_none_from_pull_means_keep_going() -> None:
    backend = InMemoryBackend()
    seen: list[int] = []
    ref: list[Spine] = []
    spine = Spine([SyncChain(), AsyncChain(seen), Stopper(ref)], backend, poll_timeout=0.01)
    ref.append(spine)
    task = asyncio.create_task(spine.run())
    await asyncio.sleep(0.05)  # several empty pulls happen here
    assert not task.done()
    await backend.enqueue(Event(event_type="A", payload={"n": 4}))
    assert await asyncio.wait_for(task, 5) == 2
    assert seen == [5]


def test_handler_returning_garbage_is_a_failure() -> None:
    class Bad(Organ):
        listens_to: ClassVar[list[str]] = ["A"]

        def handle(self, event: Event) -> Any:
            return "not an event"

    backend = InMemoryBackend(max_deliveries=1)
    asyncio.run(
        Spine([Bad()], backend, poll_timeout=0.01).run(Event(event_type="A"), until_idle=0.02)
    )
    assert "returned str" in backend.dead_letters[0].error


async def test_a_stop_before_run_begins_is_kept_and_cleared_after() -> None:
    backend = InMemoryBackend()
    spine = Spine([], backend)
    task = asyncio.create_task(spine.run())  # created, not yet running
    spine.stop()
    assert await asyncio.wait_for(task, 5) == 0
    # The stop was used up: the next run dispatches until it is idle.
    await backend.enqueue(Event(event_type="x", payload={}))
    assert await spine.run(until_idle=0.05) == 1
