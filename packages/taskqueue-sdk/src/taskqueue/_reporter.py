"""The worker's reports, sent in batches: one ``POST /api/workers/report`` carries every
result that finished while the previous request was under way.

Each finished task hands its result to :meth:`Reporter.report` and waits for the verdict. The
reporter keeps the results until the server answers (so an outage loses nothing), retrying
with backoff; a report is given up only when its lease is lost (the server said so, or the
heartbeat did) or, during shutdown, under the same rules as a single report (see
:meth:`taskqueue.worker.Worker._report_one`). A batch the server refuses as a whole (422,
one bad result) is retried report by report through the single-task routes, so one bad
report cannot sink the others; a server without the batch route (404) gets single reports
from then on. A batch that claims and is refused is sent once more without the claim: only
when that one is taken (a server from before the claim in reports) does the worker claim
apart from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from platform_core.logging import get_logger
from taskqueue.errors import NotFoundError, TaskQueueError, ValidationError
from taskqueue.models import (
    REPORT_BATCH_MAX,
    ClaimedTask,
    ReportOutcome,
    TaskReport,
    TaskResult,
)
from taskqueue.retry import RetryConfig

if TYPE_CHECKING:
    from taskqueue.async_client import AsyncTaskQueueClient

__all__ = ["Pending", "Refill", "Reporter"]

_log = get_logger("taskqueue.worker")
_ONCE = RetryConfig(max_retries=0)


@dataclass
class Pending:
    """One result waiting for the server's verdict.

    Attributes:
        task: The claimed task.
        lost: Set when the lease is lost (or the task cancelled): the report is given up.
        kind: ``complete``, ``fail`` or ``release``.
        result: The run's outcome.
        verdict: True once the server took the report, False when it was given up.
    """

    task: ClaimedTask
    lost: asyncio.Event
    kind: ReportOutcome
    result: TaskResult
    verdict: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def decide(self, taken: bool) -> None:
        """Settle the verdict (once)."""
        if not self.verdict.done():
            self.verdict.set_result(taken)


@dataclass(frozen=True)
class Refill:
    """How a batch of reports also claims tasks for the slots it frees (one request where a
    report and a claim were two).

    Attributes:
        wanted: How many tasks to claim along with ``n`` reports (0: none, e.g. stopping).
        start: Runs the tasks so claimed (called before the reports' verdicts are settled,
            so the slots are refilled before they count as free).
        lease_seconds: The claimed tasks' lease length.
    """

    wanted: Callable[[int], int]
    start: Callable[[list[ClaimedTask]], None]
    lease_seconds: int


class Reporter:
    """Sends the worker's reports in batches until closed.

    Args:
        client: The worker's client.
        worker_id: The worker's name.
        abort: Set when the shutdown grace period is over.
        single: Reports one result through the single-task routes (the fallback), returning
            whether the server took it.
        backoff: ``(first, longest)`` pause between two tries of a batch.
        refill: Claim tasks along with the reports (see :class:`Refill`); None claims none.
    """

    def __init__(
        self,
        client: AsyncTaskQueueClient,
        worker_id: str,
        abort: asyncio.Event,
        single: Callable[[Pending], Awaitable[bool]],
        backoff: tuple[float, float],
        refill: Refill | None = None,
    ) -> None:
        self._client = client
        self._worker_id = worker_id
        self._abort = abort
        self._single = single
        self._first, self._longest = backoff
        self._queue: list[Pending] = []
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._solo: set[asyncio.Task[None]] = set()
        self.batches = True
        self._refill = refill
        self._answered = False  # the server answered the last batch sent (each report)

    async def report(self, pending: Pending) -> bool:
        """Queue ``pending``; True once the server took it, False when it was given up."""
        if not self.batches:
            return await self._single(pending)
        self._queue.append(pending)
        self._wake.set()
        if self._loop is None or self._loop.done():
            self._loop = asyncio.create_task(self._run())
        return await pending.verdict

    async def close(self) -> None:
        """Stop the loop (every report has its verdict by then: the tasks awaited them)."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        for solo in list(self._solo):
            await solo

    async def _run(self) -> None:
        delay = self._first
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[:REPORT_BATCH_MAX]
                del self._queue[: len(batch)]
                again = [p for p in await self._send(batch) if not self._give_up(p, delay)]
                if not again:
                    delay = self._first
                    continue
                self._queue[:0] = again
                await self._pause(again, delay)
                delay = min(delay * 2, self._longest)

    async def _send(self, batch: list[Pending]) -> list[Pending]:
        """Send one batch; returns the reports to try again (the server did not answer)."""
        reports = [
            TaskReport(
                task_id=p.task.id,
                lease_token=p.task.lease_token,
                outcome=p.kind,
                result=p.result,
            )
            for p in batch
        ]
        refill = self._refill
        claim = refill.wanted(len(batch)) if refill is not None else 0
        self._answered = False
        try:
            if refill is not None and claim:
                both = await self._client.report_and_claim(
                    self._worker_id, reports, claim, refill.lease_seconds, retry=_ONCE
                )
                if both.tasks:  # before the verdicts: the slots are taken again at once
                    refill.start(both.tasks)
                results = both.results
            else:
                results = await self._client.report_tasks(self._worker_id, reports, retry=_ONCE)
            if len(results) != len(batch):
                raise ValueError(f"{len(results)} answers to {len(batch)} reports")
        except (ValidationError, NotFoundError) as exc:
            if claim and isinstance(exc, ValidationError):
                # A server from before the claim in reports, or a bad report in the batch:
                # the same batch without the claim tells which.
                suspended, self._refill = self._refill, None
                again = await self._send(batch)
                if self._answered:  # it was the claim: claim apart from now on
                    _log.info("taskqueue.worker.claiming_apart",
                              reason="the server refused a claim in a report")  # fmt: skip
                else:  # a bad report (or no answer): the claim is not to blame
                    self._refill = suspended
                return again
            if isinstance(exc, NotFoundError):  # a server from before the batch route
                self.batches = False
            self._alone(batch)  # report by report: one bad result must not sink the rest
            return []
        except TaskQueueError as exc:
            _log.warning(
                "taskqueue.task.report_retrying",
                tasks=len(batch),
                retry_in=round(self._first, 2),
                error=str(exc),
            )
            return batch
        except Exception:  # a bug here must not strand the results: report them singly
            _log.exception("taskqueue.worker.batch_report_failed", tasks=len(batch))
            self._alone(batch)
            return []
        self._answered = True
        for pending, answer in zip(batch, results, strict=True):
            if not answer.accepted:
                _log.warning(
                    "taskqueue.task.lease_lost", task_id=str(pending.task.id), error=answer.error
                )
            pending.decide(answer.accepted)
        return []

    def _alone(self, batch: list[Pending]) -> None:
        """Send each report of ``batch`` through the single-task routes."""
        for pending in batch:
            solo = asyncio.create_task(self._settle_alone(pending))
            self._solo.add(solo)
            solo.add_done_callback(self._solo.discard)

    async def _settle_alone(self, pending: Pending) -> None:
        try:
            taken = await self._single(pending)
        except Exception as exc:  # raised where the task awaits its verdict, as without batches
            if not pending.verdict.done():
                pending.verdict.set_exception(exc)
            return
        pending.decide(taken)

    def _give_up(self, pending: Pending, delay: float) -> bool:
        """True (and the verdict settled) when a report that found no server is abandoned:
        its lease is lost, or the shutdown grace period is over (a release gets one more
        try)."""
        aborting = self._abort.is_set()
        if pending.lost.is_set() or (aborting and pending.kind != "release"):
            abandon = True
        else:
            abandon = pending.kind == "release" and aborting and delay > 1
        if abandon:
            _log.error(
                "taskqueue.task.report_abandoned", task_id=str(pending.task.id), kind=pending.kind
            )
            pending.decide(False)
        return abandon

    async def _pause(self, waiting: list[Pending], seconds: float) -> None:
        """Wait ``seconds``, or less when a waiting report's lease is lost or the worker
        aborts (either may end a report)."""
        signals = {asyncio.create_task(p.lost.wait()) for p in waiting}
        signals.add(asyncio.create_task(self._abort.wait()))
        try:
            await asyncio.wait(signals, timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            for signal in signals:
                signal.cancel()
