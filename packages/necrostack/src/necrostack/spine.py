"""The :class:`Spine`: pulls events from a backend and dispatches them to organs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from necrostack import _metrics, _tracing
from necrostack._guard import Plan, plan_for, produced, validate_organ
from necrostack._handling import Handling, UnknownPolicy, log_handled
from necrostack._threads import HandlerThreads
from necrostack.backends.base import Backend
from necrostack.event import Event
from necrostack.organ import Organ
from necrostack.stats import Counters, SpineStats
from platform_core.logging import preload

__all__ = ["Spine"]

# Checked before each "event handled" line: building a structured event that a level filter
# then drops costs more than the whole dispatch of a no-op handler.
_stdlib_log = logging.getLogger("necrostack.spine")
_INFO = logging.INFO
_clock = time.monotonic
# CPython 3.11 specializes a function's bytecode (attribute and call fast paths) only once the
# function has been entered 8 times; a loop inside it does not count. A worker enters _run
# once and loops there for its whole life, so the first run() enters it this many times
# (returning at once) before the real call: the dispatch loop then runs specialized from its
# first event instead of never (about a third of an in-memory dispatch). Python 3.12 warms
# loops up as they run; the extra entries cost nothing there.
_WARM_UP_ENTRIES = 8
_warmed_up = False


class Spine(Handling):
    """Dispatches each pulled event to every organ listening to its type, in order.

    The Spine keeps no queue: every event waits in the backend. After all handlers of an
    event ran, the events they returned are enqueued and the event is acked. If a handler
    raises or times out, the error is logged with the event and organ, nothing the handlers
    returned is enqueued, and the event is nacked so the backend's retry policy decides what
    follows. The organs after the failing one run only if its ``on_failure`` is
    ``"continue"``.

    ``async def`` handlers run on the event loop; plain ``def`` handlers run on a bounded pool
    of daemon threads, never on the loop, so a blocking handler cannot stall the backend's
    claim renewal or the loop's other work.

    With a tracer provider installed (and ``opentelemetry-api`` importable), each event is
    handled inside a CONSUMER span ``necrostack handle <event_type>``; with a meter provider,
    counters and a handling-latency histogram are recorded.

    Args:
        organs: The handlers, validated here.
        backend: Where events come from and go to.
        max_steps: Most events one :meth:`run` handles; one more raises
            ``RuntimeError("Max steps exceeded")``.
        poll_timeout: Seconds each ``pull`` waits; bounds how fast :meth:`stop` is noticed.
        handler_timeout: Default seconds a handler may run (an organ's ``timeout`` wins);
            ``None`` for no limit.
        shutdown_timeout: Seconds :meth:`stop` waits for the event in hand; past it, the
            handler is cancelled (async) or abandoned (plain) and the event nacked with a
            :class:`~necrostack.ShutdownTimeoutError`.
        handler_threads: Threads for plain handlers (abandoned ones included).
        unknown_events: What happens to an event no organ listens to: ``"ack"`` (counted and
            logged once per type) or ``"dead_letter"`` (also moved to the dead letters; the
            backend must have a ``dead_letter`` method, as the built-in ones do).

    Raises:
        OrganValidationError: an organ is malformed (``listens_to``, ``timeout``,
            ``on_failure``).
        ValueError: a bad argument, or ``unknown_events="dead_letter"`` on a backend that
            cannot dead-letter.
    """

    def __init__(
        self,
        organs: Iterable[Organ],
        backend: Backend,
        max_steps: int = 10_000,
        *,
        poll_timeout: float = 0.5,
        handler_timeout: float | None = None,
        shutdown_timeout: float = 30.0,
        handler_threads: int = 4,
        unknown_events: UnknownPolicy = "ack",
    ) -> None:
        if handler_timeout is not None and not handler_timeout > 0:
            raise ValueError(f"handler_timeout must be positive, got {handler_timeout!r}")
        if not shutdown_timeout >= 0:
            raise ValueError(f"shutdown_timeout must be >= 0, got {shutdown_timeout!r}")
        if unknown_events not in ("ack", "dead_letter"):
            raise ValueError(
                f"unknown_events must be 'ack' or 'dead_letter', got {unknown_events!r}"
            )
        if unknown_events == "dead_letter" and not hasattr(backend, "dead_letter"):
            raise ValueError(
                f"unknown_events='dead_letter' needs a backend with dead_letter(); "
                f"{type(backend).__name__} has none"
            )
        self.organs: tuple[Organ, ...] = tuple(validate_organ(o) for o in organs)
        types = {t for o in self.organs for t in o.listens_to}
        table = {t: tuple(o for o in self.organs if t in o.listens_to) for t in types}
        self._routes: Mapping[str, tuple[Organ, ...]] = MappingProxyType(table)
        plans = {t: tuple(plan_for(o, handler_timeout) for o in os) for t, os in table.items()}
        self._counters = counters = Counters()
        # event type -> (its plans, its counter row): one lookup per event finds both. A
        # mappingproxy's get() looks the dict's get() up on every call; the dispatch path
        # uses the dict's own (read-only by convention: nothing mutates it).
        self._route = {
            t: (ps, counters.row(t), ps[0] if len(ps) == 1 else None) for t, ps in plans.items()
        }.get
        self._all_fast = all(p.fast for ps in plans.values() for p in ps)
        self.backend = backend
        self.max_steps = max_steps
        self.poll_timeout = poll_timeout
        self.handler_timeout = handler_timeout
        self.shutdown_timeout = shutdown_timeout
        self.unknown_events: UnknownPolicy = unknown_events
        self.steps = 0
        self._threads = HandlerThreads(handler_threads)
        self._stopping = False
        self._forced = False
        self._task: asyncio.Task[Any] | None = None
        self._grace: asyncio.TimerHandle | None = None
        self._current: Plan | None = None

    def routes(self, event_type: str) -> tuple[Organ, ...]:
        """The organs that handle ``event_type``, in registration order."""
        return self._routes.get(event_type, ())

    def stats(self) -> SpineStats:
        """Counters since this Spine was built, and the backend's health when it has one."""
        health = getattr(self.backend, "health_snapshot", None)
        in_flight = 0 if self._current is None else 1
        return self._counters.snapshot(in_flight, health() if callable(health) else None)

    def stop(self) -> None:
        """Ask :meth:`run` to stop pulling and return once the event in hand is handled.

        If that takes longer than ``shutdown_timeout``, the handler is cancelled (async) or
        abandoned (plain) and the event is nacked. A stop asked before :meth:`run` begins
        makes that run return at once; the request is cleared when a run returns. Safe to
        call from a handler's thread or a signal handler.
        """
        self._stopping = True
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                task.get_loop().call_soon_threadsafe(self._arm_grace)

    def _arm_grace(self) -> None:
        task = self._task
        if self._grace is None and task is not None and not task.done():
            self._grace = task.get_loop().call_later(self.shutdown_timeout, self._force_stop)

    def _force_stop(self) -> None:
        # Only a handler call is interrupted; enqueue and ack are bounded by the backend.
        task = self._task
        if self._current is not None and task is not None and not task.done():
            self._forced = True
            task.cancel()

    async def run(
        self,
        start_event: Event | None = None,
        *,
        until_idle: float | None = None,
        handle_signals: bool = False,
    ) -> int:
        """Enqueue ``start_event`` (if given) and dispatch until stopped.

        Args:
            start_event: An event to enqueue first.
            until_idle: Return when the backend yields nothing for this many seconds; run
                until :meth:`stop` when ``None``.
            handle_signals: Call :meth:`stop` on SIGTERM and SIGINT while running.

        Returns:
            How many events this call handled.

        Raises:
            RuntimeError: ``"Max steps exceeded"`` when more than ``max_steps`` events arrive.
        """
        # Pay for the logging imports now, not at the first line (often a shutdown or an error).
        preload()
        self._task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
        for sig in signals:
            loop.add_signal_handler(sig, self.stop)
        if self._stopping:
            self._arm_grace()
        try:
            if not _warmed_up:
                await _warm_up(self)
            return await self._run(start_event, until_idle)
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            if self._grace is not None:
                self._grace.cancel()
            self._grace = None
            self._task = None
            self._stopping = self._forced = False
            self._threads.shutdown()

    async def _run(
        self, start_event: Event | None, until_idle: float | None, *, warm_up: bool = False
    ) -> int:
        if warm_up:  # an entry that only counts towards specialization (see _warm_up)
            return 0
        self.steps = 0
        backend = self.backend
        if start_event is not None:
            await backend.enqueue(start_event)
        pull, enqueue, ack = backend.pull, backend.enqueue, backend.ack
        # Optional synchronous shortcuts (the built-in backends have them): an event already
        # in hand is taken, and an ack recorded, without a coroutine each. ack_nowait()
        # returns False when the backend needs the awaited ack (a round trip is due).
        pull_nowait = getattr(backend, "pull_nowait", None)
        ack_nowait = getattr(backend, "ack_nowait", None)
        # While a backend's ack_work is empty its acks have nothing to do (see Backend).
        ack_work = getattr(backend, "ack_work", None)
        route_of, logs_info = self._route, _stdlib_log.isEnabledFor
        # Checked once per run: without providers no span or metric work happens per event.
        tracer = _tracing.active_tracer()
        meter = _metrics.active_metrics()
        fast = self._all_fast and tracer is None and meter is None
        poll, clock = self.poll_timeout, _clock
        first_wait = poll if until_idle is None else max(0.0, min(poll, until_idle))
        idle_since = 0.0  # with until_idle: when the current empty spell began
        in_spell = False
        log_each = logs_info(_INFO)  # once per run: a level set while running is not seen
        steps, max_steps = 0, self.max_steps
        try:
            while not self._stopping:
                if pull_nowait is not None and (event := pull_nowait()) is not None:
                    pass
                elif until_idle is None:
                    event = await pull(poll)
                elif not in_spell:
                    in_spell, idle_since = True, clock()
                    event = await pull(first_wait)
                else:
                    event = await pull(max(0.0, min(poll, until_idle - (clock() - idle_since))))
                if event is None:
                    if until_idle is not None and clock() - idle_since >= until_idle:
                        break
                    continue
                if steps >= max_steps:
                    raise RuntimeError("Max steps exceeded")
                steps += 1
                in_spell = False
                event_type = event.event_type
                route = route_of(event_type)
                if route is None:
                    await self._unknown(event)
                    continue
                plans, row, solo = route
                try:
                    if not fast:
                        await self._handle(event, plans, tracer, meter)
                        continue
                    # The fast path (async handlers, no timeout, no providers), inlined: the
                    # coroutine a call costs per event is a large share of a cheap dispatch.
                    if solo is not None:  # one organ listens (the common case): no loop
                        self._current = solo
                        try:
                            result = await solo.handle(event)
                            out = None
                            if result is not None:
                                out = await produced(result, solo.organ, event)
                        except Exception as exc:
                            await self._failed(event, solo, exc, None, first=True)
                            self._current = None
                            continue
                        self._current = None
                        if log_each:
                            log_handled(event, solo.organ, out)
                        if out:
                            for new in out:
                                await enqueue(new)
                    else:
                        emitted: list[Event] | None = None
                        failed = False
                        for plan in plans:
                            self._current = plan
                            try:
                                result = await plan.handle(event)
                                out = None
                                if result is not None:
                                    out = await produced(result, plan.organ, event)
                            except Exception as exc:
                                await self._failed(event, plan, exc, None, first=not failed)
                                failed = True
                                if plan.keep_going:
                                    continue
                                break
                            if log_each:
                                log_handled(event, plan.organ, out)
                            if out:
                                emitted = out if emitted is None else [*emitted, *out]
                        self._current = None
                        if failed:
                            continue
                        if emitted:
                            for new in emitted:
                                await enqueue(new)
                    if (ack_work is None or ack_work) and (
                        ack_nowait is None or not ack_nowait(event)
                    ):
                        await ack(event)
                    row[0] += 1
                except asyncio.CancelledError:
                    if not self._forced:
                        raise
                    await self._interrupted(event)
                    break
        finally:
            self.steps = steps
            self._current = None
        return self.steps

    async def dispatch(self, event: Event) -> list[Event]:
        """Run every listening organ on ``event``, then enqueue their events and ack.

        :meth:`run` does the same for each event it pulls (so overriding this method does not
        change what :meth:`run` does). An event no organ listens to is treated as
        ``unknown_events`` says.

        Returns:
            The events enqueued (empty when a handler failed and the event was nacked).
        """
        route = self._route(event.event_type)
        if route is None:
            await self._unknown(event)
            return []
        try:
            sent = await self._handle(
                event, route[0], _tracing.active_tracer(), _metrics.active_metrics()
            )
        finally:
            self._current = None
        return sent or []


async def _warm_up(spine: Spine) -> None:
    """Enter the dispatch loop's function enough times for CPython to specialize it."""
    global _warmed_up
    for _ in range(_WARM_UP_ENTRIES):
        await spine._run(None, None, warm_up=True)
    _warmed_up = True
