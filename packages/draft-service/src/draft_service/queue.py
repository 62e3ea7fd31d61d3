"""Background jobs on necrostack: a job id travels as an event to the organ that runs it."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import ClassVar

from necrostack import Backend, BackendFullError, DeadLetter, DeadLetterHook, Event, Organ, Spine
from necrostack.errors import BackendError
from platform_core.errors import DependencyUnavailableError
from platform_core.logging import get_logger

__all__ = ["JOB_EVENT", "QUEUE_ERRORS", "JobOrgan", "JobQueue", "WaitingJobs", "fail_given_up_jobs"]

JOB_EVENT = "draft_service.job"
"""Event type carrying ``{"job_id": ...}``."""

QUEUE_ERRORS: tuple[type[Exception], ...] = (DependencyUnavailableError, BackendError)
"""What an enqueue raises when the queue did not take the job (Redis unreachable, refused)."""

_log = get_logger("draft_service.queue")


class JobOrgan(Organ):
    """Runs the job named by each event; an exception nacks it so the backend redelivers.

    Args:
        run_job: The coroutine that runs a job to its end (``DraftService.run_job``).
    """

    listens_to: ClassVar[list[str]] = [JOB_EVENT]

    def __init__(self, run_job: Callable[[str], Awaitable[str]]) -> None:
        super().__init__("draft-jobs")
        self._run_job = run_job

    async def handle(self, event: Event) -> None:
        """Run the job in ``event.payload["job_id"]``."""
        await self._run_job(str(event.payload["job_id"]))


def fail_given_up_jobs(give_up: Callable[[str, int, str], Awaitable[bool]]) -> DeadLetterHook:
    """The backends' ``on_dead_letter`` hook: a job whose event was given up on is failed.

    Without it, a job whose deliveries all failed outside the LLM call (the database was
    down, say) or whose workers all died mid-job would stay ``running`` forever.

    Args:
        give_up: Fails the job (``Store.give_up``): job id, deliveries, the backend's error.
    """

    async def hook(dead: DeadLetter) -> None:
        if dead.event.event_type != JOB_EVENT:
            return
        job_id = str(dead.event.payload.get("job_id"))
        if await give_up(job_id, dead.deliveries, dead.error):
            _log.error("job_failed", job_id=job_id, deliveries=dead.deliveries, error=dead.error)

    return hook


class WaitingJobs:
    """Job ids waiting for an in-process backend, kept as text until it has room.

    An in-memory backend holds events as objects: three that the garbage collector tracks
    each (the event, its dict and its set of fields). A backlog of thousands of jobs (a slow
    LLM, a burst of sends) made every collection of the older generations walk them, a pause
    of 10-20 ms for every request in flight. Text in a deque is invisible to the collector;
    :meth:`feed` makes each id an event only when the backend (bounded to the jobs run at
    once) has room, in the order the ids came.

    Args:
        limit: Ids waiting from which :attr:`full` is true. :meth:`add` takes every id (its
            job is stored already); callers ask :attr:`full` before storing new work.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._ids: deque[str] = deque()
        self._limit = limit
        self._arrived: asyncio.Event | None = None

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def full(self) -> bool:
        """Whether ``limit`` ids or more are waiting."""
        return len(self._ids) >= self._limit

    def add(self, job_id: str) -> None:
        """Queue ``job_id`` behind the others."""
        self._ids.append(job_id)
        if self._arrived is not None:
            self._arrived.set()

    async def feed(self, backend: Backend) -> None:
        """Hand the waiting ids to ``backend`` as job events, oldest first, as it makes
        room, until cancelled."""
        arrived = self._arrived = asyncio.Event()
        while True:
            while self._ids:
                event = Event(event_type=JOB_EVENT, payload={"job_id": self._ids[0]})
                try:
                    await backend.enqueue(event)
                except BackendFullError:  # still full after the backend's wait: wait again
                    continue
                except Exception as exc:  # the job stays first; tried again in a second
                    _log.error("job_feed_failed", job_id=self._ids[0], error=repr(exc))
                    await asyncio.sleep(1)
                    continue
                self._ids.popleft()
            arrived.clear()
            await arrived.wait()


class JobQueue:
    """Enqueues jobs on a necrostack backend and, when started, runs them on ``concurrency``
    spines.

    Args:
        backend: Where jobs are enqueued (memory in-process, or Redis Streams).
        consumers: Builds the backend the ``i``-th spine pulls from (e.g. one Redis consumer
            each, so a slow job never holds back prefetched ones); every spine shares
            ``backend`` when omitted, as the memory backend requires.
        concurrency: Jobs run at once by :meth:`start`.
        waiting: Where jobs wait until ``backend`` has room (an in-memory backend bounded to
            about ``concurrency`` events); jobs go to ``backend`` directly when omitted.
    """

    def __init__(
        self,
        backend: Backend,
        consumers: Callable[[int], Backend] | None = None,
        *,
        concurrency: int = 8,
        waiting: WaitingJobs | None = None,
    ) -> None:
        self.backend = backend
        self.concurrency = concurrency
        self._consumers = consumers
        self._waiting = waiting
        self._feeder: asyncio.Task[None] | None = None
        self._owned: list[Backend] = []
        self._spines: list[Spine] = []
        self._tasks: list[asyncio.Task[int]] = []

    @property
    def full(self) -> bool:
        """Whether the waiting room is full (never without one)."""
        return self._waiting is not None and self._waiting.full

    async def enqueue(self, job_id: str) -> None:
        """Hand ``job_id`` to the backend, or to the jobs waiting for it.

        Raises:
            BackendFullError: a bounded backend had no room in time (not with a waiting room).
        """
        if self._waiting is not None:
            self._waiting.add(job_id)
            return
        await self.backend.enqueue(Event(event_type=JOB_EVENT, payload={"job_id": job_id}))

    @property
    def running(self) -> bool:
        """Whether :meth:`start` was called and :meth:`stop` not yet."""
        return bool(self._tasks)

    def start(self, run_job: Callable[[str], Awaitable[str]]) -> None:
        """Start consuming: ``concurrency`` spines, each running one job at a time."""
        if self._tasks:
            raise RuntimeError("JobQueue already started")
        organ = JobOrgan(run_job)
        for i in range(self.concurrency):
            backend = self.backend
            if self._consumers is not None:
                backend = self._consumers(i)
                self._owned.append(backend)
            spine = Spine([organ], backend, max_steps=2**62, poll_timeout=0.25)
            self._spines.append(spine)
            self._tasks.append(asyncio.create_task(spine.run(), name=f"draft-jobs-{i}"))
        if self._waiting is not None:
            feeding = self._waiting.feed(self.backend)
            self._feeder = asyncio.create_task(feeding, name="draft-jobs-feeder")
        _log.info("job_queue_started", concurrency=self.concurrency)

    async def stop(self) -> None:
        """Stop handing waiting jobs to the backend; let each spine finish the job in hand,
        then stop consuming."""
        if self._feeder is not None:
            self._feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feeder
            self._feeder = None
        for spine in self._spines:
            spine.stop()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                _log.error("job_spine_failed", error=repr(result))
        self._spines.clear()
        self._tasks.clear()
        for backend in self._owned:
            await backend.close()
        self._owned.clear()

    async def close(self) -> None:
        """Stop consuming and release the backends."""
        await self.stop()
        await self.backend.close()
