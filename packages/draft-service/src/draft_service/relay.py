"""Jobs stored while the queue could not take them are handed over when it can.

A send, a feedback or a retry commits its job first and then enqueues it. With Redis queues,
Redis may fail between the two. The job is then kept in the database, still ``queued``, with
``unqueued_since`` set and an ``error`` saying what it waits for, and the request is answered
``202`` as usual: the work is stored and will run. Every Redis-mode process runs a
:class:`Relay`, which hands such jobs to the queue, oldest first, once Redis answers again.

A job is handed over at least once: a process that dies after the queue took a job but
before its mark was cleared hands it over again, and the worker skips a job that finished.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

from draft_service.queue import QUEUE_ERRORS
from draft_service.store import Store
from platform_core.errors import DependencyUnavailableError
from platform_core.logging import get_logger

__all__ = ["Relay", "hand_over"]

_log = get_logger("draft_service.relay")


def _reason(exc: Exception) -> str:
    # The job's error is shown to its owner: the service's name, never its address.
    if isinstance(exc, DependencyUnavailableError):
        return f"{exc.service} is unavailable; the job is handed over when it answers again"
    return "the queue refused the job; it is handed over again shortly"


async def hand_over(store: Store, enqueue: Callable[[str], Awaitable[None]], job_id: str) -> None:
    """Enqueue a stored job; when the queue cannot take it, mark it for the relay.

    Errors other than :data:`~draft_service.queue.QUEUE_ERRORS` propagate.
    """
    try:
        await enqueue(job_id)
    except QUEUE_ERRORS as exc:
        await store.mark_unqueued(job_id, _reason(exc))
        _log.warning("job_not_queued", job_id=job_id, error=str(exc), detail="the relay retries")


class Relay:
    """Every ``interval`` seconds, hands the marked jobs to the queue (see the module).

    A round that fails (the queue or the database unreachable) is logged and the next round
    tries again. :meth:`stop` lets a round in progress finish rather than cancelling it, so
    no connection is abandoned in the middle of a statement.

    Args:
        store: The jobs' database.
        enqueue: Hands one job id to the queue.
        interval: Seconds between rounds.
    """

    def __init__(
        self, store: Store, enqueue: Callable[[str], Awaitable[None]], interval: float
    ) -> None:
        self._store = store
        self._enqueue = enqueue
        self._interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the rounds in a task of the running loop."""
        self._task = asyncio.create_task(self._run(), name="draft-relay")

    async def stop(self) -> None:
        """Stop after the round in progress, if any."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            if not self._stopping.is_set():
                await self.round()

    async def round(self) -> int:
        """Hand the marked jobs over once; returns how many the queue took."""
        try:
            taken, failure = await self._store.hand_over_unqueued(self._enqueue)
        except (OSError, SQLAlchemyError) as exc:
            _log.warning("relay_round_failed", error=f"{type(exc).__name__}: {exc}")
            return 0
        if taken:
            _log.info("jobs_handed_over", count=taken)
        if failure is not None:
            _log.warning("relay_queue_unavailable", error=f"{type(failure).__name__}: {failure}")
        return taken
