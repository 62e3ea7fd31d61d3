"""The worker: claim tasks, run each command in a subprocess, heartbeat, report the outcome.

Up to ``concurrency`` tasks run at once. Claims long-poll (the server holds an empty claim up
to ``claim_wait`` seconds and answers as soon as a task becomes runnable). Each command runs
through the shell with the task's ``environment`` and ``secret_environment`` (whose values only
the claim response carries) added to the worker's, in the task's
``working_directory`` or the worker's ``work_dir`` or else a fresh temporary directory
(removed afterwards), in its own process group, stopped after its ``timeout``.

A failed run is reported as one failed attempt; the server schedules the retry (the task is
Pending again ``retry_delay`` seconds later), so the worker never sleeps on a failing task.
A finished command's result is kept and reported until the server answers (with backoff,
while the lease is heartbeated), or until the lease is lost (409): an outage of the server
loses no result. Reports are idempotent by lease token, so repeating one is harmless. Results
that finish while a report is under way go out together in the next one
(``POST /api/workers/report``, see :mod:`taskqueue._reporter`).

:meth:`Worker.stop` (SIGTERM/SIGINT in the CLI) stops claiming and gives running commands
``shutdown_timeout`` seconds; then their process groups are killed and the tasks handed back
to Pending without counting an attempt. If the worker itself is killed, its watchdog
(:mod:`taskqueue._watchdog`) kills every command it left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from platform_core.logging import get_logger
from taskqueue._command import Command, RunningCommand
from taskqueue._reporter import Pending, Refill, Reporter
from taskqueue._watchdog import INSTANCE_VARIABLE
from taskqueue._worker_parts import ONCE, Lease, WorkerConfig, default_worker_id
from taskqueue.async_client import AsyncTaskQueueClient
from taskqueue.errors import (
    ConflictError,
    LeaseLostError,
    NotFoundError,
    TaskQueueError,
    ValidationError,
)
from taskqueue.models import ClaimedTask, ReportOutcome, TaskResult, TaskStatus

__all__ = ["Worker", "WorkerConfig", "default_worker_id"]

_log = get_logger("taskqueue.worker")
_REPORT_BACKOFF_FIRST = 0.2
_SHORT_POLL = 0.2
_ABORT_KILL_WAIT = 0.5


class Worker:
    """Runs claimed tasks until stopped.

    Args:
        client: An open async client.
        config: How to behave.
    """

    def __init__(self, client: AsyncTaskQueueClient, config: WorkerConfig) -> None:
        self.client = client
        self.config = config
        self.completed = 0
        self.failed = 0
        self.released = 0
        self.instance = uuid.uuid4().hex
        self._stopping = asyncio.Event()
        self._abort = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._reporter: Reporter | None = None
        self._claim_batch = max(1, config.concurrency // 2)

    def stop(self) -> None:
        """Stop claiming; running commands get ``shutdown_timeout`` seconds to finish. A
        second call stops them at once."""
        if self._stopping.is_set():
            self._abort.set()
            return
        _log.info("taskqueue.worker.stopping", shutdown_timeout=self.config.shutdown_timeout)
        self._stopping.set()

    async def run(self) -> None:
        """Claim and run tasks until :meth:`stop` (or idle, with ``exit_when_idle``)."""
        cfg = self.config
        _log.info("taskqueue.worker.started", worker_id=cfg.worker_id, concurrency=cfg.concurrency)
        self._start_watchdog()
        if cfg.batch_reports:
            self._reporter = Reporter(
                self.client,
                cfg.worker_id,
                self._abort,
                self._report_one,
                (_REPORT_BACKOFF_FIRST, cfg.report_backoff_max),
                Refill(self._refill_wanted, self._start, cfg.lease_seconds),
            )
        try:
            await self._loop()
            await self._drain()
        finally:
            if self._reporter is not None:
                await self._reporter.close()
            self._stop_watchdog()
        _log.info(
            "taskqueue.worker.stopped",
            completed=self.completed,
            failed=self.failed,
            released=self.released,
        )

    async def _loop(self) -> None:
        cfg = self.config
        backoff = _REPORT_BACKOFF_FIRST
        while not self._stopping.is_set():
            free = cfg.concurrency - len(self._running)
            if free <= 0:
                await self._until(set(self._running), None)
                continue
            if free < self._claim_batch and cfg.claim_gather > 0:
                free = await self._gather_slots(free)
            wait = 0.0 if cfg.exit_when_idle else cfg.claim_wait
            asked = asyncio.get_running_loop().time()
            claim = asyncio.create_task(
                self.client.claim_tasks(
                    cfg.worker_id,
                    max_tasks=free,
                    lease_seconds=cfg.lease_seconds,
                    wait=wait,
                    retry=ONCE,
                )
            )
            await self._until({claim}, None)
            if not claim.done():  # stopping: hang up; the server leases nothing to us then
                claim.cancel()
                with contextlib.suppress(asyncio.CancelledError, TaskQueueError):
                    await claim
                break
            try:
                claimed = claim.result()
            except TaskQueueError as exc:
                _log.error("taskqueue.worker.claim_failed", error=str(exc))
                await self._until(set(), backoff)
                backoff = min(backoff * 2, cfg.report_backoff_max)
                continue
            backoff = _REPORT_BACKOFF_FIRST
            self._start(claimed)
            if not claimed and cfg.exit_when_idle and not self._running:
                if await self._nothing_pending():
                    break
                await self._until(set(), 0.1)
            elif not claimed and asyncio.get_running_loop().time() - asked < wait / 2 + 0.2:
                # No long poll (--claim-wait 0, or a server that answered at once): a short
                # pause instead of a busy loop.
                await self._until(set(), _SHORT_POLL)

    def _start(self, claimed: list[ClaimedTask]) -> None:
        """Run each of the ``claimed`` tasks in a job of its own."""
        for task in claimed:
            job = asyncio.create_task(self._run_task(task))
            self._running.add(job)
            job.add_done_callback(self._running.discard)

    def _refill_wanted(self, reports: int) -> int:
        """How many tasks a batch of ``reports`` claims: one per slot it frees (each report
        is a job waiting for its verdict), none once the worker is stopping."""
        return 0 if self._stopping.is_set() else reports

    async def _gather_slots(self, free: int) -> int:
        """With some tasks still running, wait up to ``claim_gather`` seconds for more slots
        to free, so that one claim leases several tasks instead of one each (a busy worker
        then sends a fraction of the claims). An idle worker never waits here."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self.config.claim_gather
        while free < self._claim_batch and self._running and not self._stopping.is_set():
            left = until - loop.time()
            if left <= 0:
                break
            await self._until(set(self._running), left)
            free = self.config.concurrency - len(self._running)
        return free

    async def _nothing_pending(self) -> bool:
        try:
            stats = await self.client.get_stats()
        except TaskQueueError as exc:
            _log.error("taskqueue.worker.stats_failed", error=str(exc))
            return False
        counts = stats.tasks_by_status
        return not counts.get(TaskStatus.PENDING) and not counts.get(TaskStatus.RUNNING)

    async def _until(self, waiters: set[asyncio.Future[Any]], seconds: float | None) -> None:
        """Wait for one of ``waiters``, ``seconds``, or stop."""
        stop = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({stop, *waiters}, timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            stop.cancel()

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.shutdown_timeout
        while self._running:  # looked at anew: a report in flight may still start jobs
            left = deadline - loop.time()
            if left > 0 and not self._abort.is_set():
                await asyncio.wait(set(self._running), timeout=left, return_when="FIRST_COMPLETED")
                continue
            self._abort.set()
            await asyncio.wait(set(self._running))

    # --- one task ----------------------------------------------------------------------------

    async def _run_task(self, task: ClaimedTask) -> None:
        lease = Lease(self.client, self.config, task)
        try:
            result = await self._execute(task, lease)
            if lease.lost.is_set():
                reason = "cancelled" if lease.cancelled else "lease lost"
                _log.info("taskqueue.task.stopped", task_id=str(task.id), reason=reason)
                return
            if result is None:  # shutting down: hand the task back, not counted
                stopped = TaskResult(error="worker stopped")
                if await self._report(Pending(task, lease.lost, "release", stopped)):
                    self.released += 1
                return
            kind: ReportOutcome = "complete" if result.exit_code == 0 else "fail"
            if await self._report(Pending(task, lease.lost, kind, result)):
                if kind == "complete":
                    self.completed += 1
                else:
                    self.failed += 1
                    _log.warning(
                        "taskqueue.task.attempt_failed",
                        task_id=str(task.id),
                        attempt=task.attempts,
                        exit_code=result.exit_code,
                        error=result.error,
                    )
        finally:
            await lease.close()

    async def _execute(self, task: ClaimedTask, lease: Lease) -> TaskResult | None:
        """Run the command; None when the worker is shutting down and stopped it."""
        command = RunningCommand(
            Command(
                command=task.command,
                environment={
                    **task.environment,
                    **task.secret_environment,
                    INSTANCE_VARIABLE: self.instance,
                    "TASKQUEUE_TASK_ID": str(task.id),
                    "TASKQUEUE_WORKER_ID": self.config.worker_id,
                },
                working_directory=task.working_directory or self.config.work_dir,
                timeout=task.timeout,
                kill_wait=self.config.kill_wait,
            )
        )
        error = await command.start()
        if error is not None:
            return TaskResult(error=error, duration=0.0)
        done = asyncio.create_task(command.wait())
        abort = asyncio.create_task(self._abort.wait())
        lost = asyncio.create_task(lease.lost.wait())
        try:
            await asyncio.wait({done, abort, lost}, return_when="FIRST_COMPLETED")
            if not done.done() and abort.done():  # its grace period is over already
                await command.stop("worker stopping", kill_wait=_ABORT_KILL_WAIT)
            elif not done.done():
                await command.stop("cancelled" if lease.cancelled else "lease lost")
            result = await done
        finally:
            abort.cancel()
            lost.cancel()
        if abort.done() and not abort.cancelled() and result.exit_code is None:
            return None
        return result

    async def _report(self, pending: Pending) -> bool:
        """Hand the result to the batching reporter (see :mod:`taskqueue._reporter`)."""
        if self._reporter is None:
            return await self._report_one(pending)
        return await self._reporter.report(pending)

    async def _report_one(self, pending: Pending) -> bool:
        """Send one report through the single-task routes until the server takes it (True)
        or the lease is lost (False).

        During shutdown, once the commands' grace period is over, the report is tried once
        more and then given up (the lease lapses and the task runs again elsewhere).
        """
        cfg = self.config
        task, kind, result = pending.task, pending.kind, pending.result
        send: Callable[[], Awaitable[object]]
        if kind == "complete":

            def send() -> Awaitable[object]:
                return self.client.complete_task(
                    task.id, cfg.worker_id, result, lease_token=task.lease_token, retry=ONCE
                )
        else:

            def send() -> Awaitable[object]:
                return self.client.fail_task(
                    task.id,
                    cfg.worker_id,
                    result,
                    lease_token=task.lease_token,
                    requeue=kind == "release",
                    retry=ONCE,
                )

        delay = _REPORT_BACKOFF_FIRST
        while True:
            try:
                await send()
                return True
            except (LeaseLostError, NotFoundError, ConflictError) as exc:
                _log.warning("taskqueue.task.lease_lost", task_id=str(task.id), error=str(exc))
                return False
            except ValidationError as exc:  # a bug, not an outage: retrying cannot help
                _log.error("taskqueue.task.report_refused", task_id=str(task.id), error=str(exc))
                return False
            except TaskQueueError as exc:
                if pending.lost.is_set() or (self._abort.is_set() and kind != "release"):
                    _log.error(
                        "taskqueue.task.report_abandoned",
                        task_id=str(task.id),
                        kind=kind,
                        error=str(exc),
                    )
                    return False
                if kind == "release" and self._abort.is_set() and delay > 1:
                    _log.error(
                        "taskqueue.task.release_failed", task_id=str(task.id), error=str(exc)
                    )
                    return False
                _log.warning(
                    "taskqueue.task.report_retrying",
                    task_id=str(task.id),
                    kind=kind,
                    retry_in=round(delay, 2),
                    error=str(exc),
                )
            lost = asyncio.create_task(pending.lost.wait())
            await asyncio.wait({lost}, timeout=delay)
            lost.cancel()
            delay = min(delay * 2, cfg.report_backoff_max)

    # --- the watchdog ------------------------------------------------------------------------

    def _start_watchdog(self) -> None:
        if not sys.platform.startswith("linux"):
            return
        self._watchdog = subprocess.Popen(
            [sys.executable, "-m", "taskqueue._watchdog", self.instance],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )

    def _stop_watchdog(self) -> None:
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is None:
            return
        assert watchdog.stdin is not None
        watchdog.stdin.close()  # end of file: it sweeps once and exits
        try:
            watchdog.wait(5)
        except subprocess.TimeoutExpired:
            watchdog.kill()
            watchdog.wait()
