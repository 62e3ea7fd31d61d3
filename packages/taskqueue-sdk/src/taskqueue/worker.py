"""The worker: claim tasks, run each command in a subprocess, heartbeat, report the outcome.

Each task's command runs through the shell with the task's ``environment`` added to the
worker's, in its ``working_directory``, killed (with its whole process group) after its
``timeout``. A failed run is repeated ``retry_attempts`` more times, ``retry_delay`` apart;
the lease is heartbeated throughout, and a cancellation seen in a heartbeat stops the
command. :meth:`Worker.stop` (wired to SIGTERM by the CLI) stops claiming and lets running
tasks finish for ``grace_period`` seconds, then stops them and hands them back (requeue).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from platform_core.logging import get_logger
from taskqueue.async_client import AsyncTaskQueueClient
from taskqueue.errors import TaskQueueError
from taskqueue.models import Task, TaskResult
from taskqueue.models.tasks import OUTPUT_TAIL_CHARS

__all__ = ["Worker", "WorkerConfig", "default_worker_id"]

_log = get_logger("taskqueue.worker")
_KILL_WAIT = 5.0


def default_worker_id() -> str:
    """``<hostname>-<pid>``: unique per worker process."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker behaves.

    Attributes:
        worker_id: The name the server leases tasks to.
        concurrency: Tasks run at the same time.
        lease_seconds: Lease length; heartbeats go out every third of it.
        poll_interval: Seconds between claims when nothing was runnable.
        grace_period: Seconds running tasks get to finish after :meth:`Worker.stop`.
        exit_when_idle: Return once nothing is runnable and nothing runs (batch jobs, tests).
    """

    worker_id: str
    concurrency: int = 1
    lease_seconds: int = 60
    poll_interval: float = 1.0
    grace_period: float = 30.0
    exit_when_idle: bool = False


class _Tail:
    """The last ``limit`` characters of a stream."""

    def __init__(self, limit: int = OUTPUT_TAIL_CHARS) -> None:
        self.limit = limit
        self.buf = bytearray()

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            self.buf += chunk
            if len(self.buf) > self.limit * 4:
                del self.buf[: -self.limit * 4]

    def text(self) -> str:
        return self.buf.decode("utf-8", errors="replace")[-self.limit :]


class _StoppedError(Exception):
    """The run was stopped: the task was cancelled or the worker is shutting down."""

    def __init__(self, cancelled: bool) -> None:
        super().__init__("cancelled" if cancelled else "worker stopping")
        self.cancelled = cancelled


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
        self._stopping = asyncio.Event()
        self._abort = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()

    def stop(self) -> None:
        """Stop claiming; running tasks get ``grace_period`` seconds to finish."""
        if not self._stopping.is_set():
            _log.info("taskqueue.worker.stopping", grace_period=self.config.grace_period)
            self._stopping.set()

    async def run(self) -> None:
        """Claim and run tasks until :meth:`stop` (or idle, with ``exit_when_idle``)."""
        cfg = self.config
        _log.info("taskqueue.worker.started", worker_id=cfg.worker_id, concurrency=cfg.concurrency)
        while not self._stopping.is_set():
            free = cfg.concurrency - len(self._running)
            claimed: list[Task] = []
            if free > 0:
                try:
                    claimed = await self.client.claim_tasks(
                        cfg.worker_id, max_tasks=free, lease_seconds=cfg.lease_seconds
                    )
                except TaskQueueError as exc:
                    _log.error("taskqueue.worker.claim_failed", error=str(exc))
                if not claimed:
                    _log.debug("taskqueue.worker.idle", running=len(self._running))
            for task in claimed:
                job = asyncio.create_task(self._run_task(task))
                self._running.add(job)
                job.add_done_callback(self._running.discard)
            if claimed and len(self._running) < cfg.concurrency:
                continue
            if cfg.exit_when_idle and not claimed and not self._running:
                break
            await self._pause(cfg.poll_interval)
        await self._drain()
        _log.info("taskqueue.worker.stopped", completed=self.completed, failed=self.failed)

    async def _pause(self, seconds: float) -> None:
        """Sleep until the poll interval passes, a running task ends, or stop is asked."""
        stop = asyncio.create_task(self._stopping.wait())
        waiters: set[asyncio.Future[Any]] = {stop, *self._running}
        await asyncio.wait(waiters, timeout=seconds, return_when="FIRST_COMPLETED")
        stop.cancel()

    async def _drain(self) -> None:
        if not self._running:
            return
        _, pending = await asyncio.wait(set(self._running), timeout=self.config.grace_period)
        if pending:
            self._abort.set()
            await asyncio.wait(pending)

    async def _run_task(self, task: Task) -> None:
        attempts = 0
        result = TaskResult()
        try:
            for attempt in range(1, task.retry_attempts + 2):
                attempts = attempt
                result = await self._attempt(task)
                if result.exit_code == 0:
                    await self.client.complete_task(task.id, self.config.worker_id, result)
                    self.completed += 1
                    _log.info("taskqueue.task.completed", task_id=str(task.id), attempt=attempt)
                    return
                _log.warning(
                    "taskqueue.task.attempt_failed",
                    task_id=str(task.id),
                    attempt=attempt,
                    exit_code=result.exit_code,
                    error=result.error,
                )
                if attempt <= task.retry_attempts:
                    await self._heartbeat_while(task, asyncio.sleep(task.retry_delay))
            await self.client.fail_task(task.id, self.config.worker_id, result, attempts=attempts)
            self.failed += 1
        except _StoppedError as stopped:
            if not stopped.cancelled:
                await self.client.fail_task(
                    task.id, self.config.worker_id, result, attempts=attempts, requeue=True
                )
            _log.info("taskqueue.task.stopped", task_id=str(task.id), reason=str(stopped))
        except TaskQueueError as exc:
            _log.error("taskqueue.task.report_failed", task_id=str(task.id), error=str(exc))

    async def _attempt(self, task: Task) -> TaskResult:
        started = time.monotonic()
        env = {**os.environ, **task.environment, **task.secret_environment}
        try:
            proc = await asyncio.create_subprocess_shell(
                task.command,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=task.working_directory,
                start_new_session=True,
            )
        except OSError as exc:
            return TaskResult(error=f"could not start the command: {exc}", duration=0.0)
        out, err = _Tail(), _Tail()
        readers = asyncio.gather(out.drain(proc.stdout), err.drain(proc.stderr))
        error: str | None = None
        try:
            await self._heartbeat_while(task, asyncio.wait_for(proc.wait(), task.timeout))
        except TimeoutError:
            error = f"timed out after {task.timeout} s"
        finally:
            if proc.returncode is None:
                await _kill(proc)
            await readers
        code = proc.returncode if error is None else None
        if error is None and code is not None and code < 0:
            error = f"killed by signal {-code}"
            code = None
        return TaskResult(
            exit_code=code,
            stdout=out.text(),
            stderr=err.text(),
            error=error,
            duration=round(time.monotonic() - started, 3),
        )

    async def _heartbeat_while(self, task: Task, work: Awaitable[object]) -> None:
        """Await ``work`` while heartbeating; raise _StoppedError on cancel or abort."""
        job = asyncio.ensure_future(work)
        interval = max(self.config.lease_seconds / 3, 0.1)
        abort = asyncio.create_task(self._abort.wait())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {job, abort}, timeout=interval, return_when="FIRST_COMPLETED"
                )
                if job in done:
                    job.result()
                    return
                if abort in done:
                    raise _StoppedError(cancelled=False)
                try:
                    beat = await self.client.heartbeat(
                        task.id, self.config.worker_id, self.config.lease_seconds
                    )
                except TaskQueueError as exc:
                    _log.warning(
                        "taskqueue.task.heartbeat_failed", task_id=str(task.id), error=str(exc)
                    )
                    continue
                if beat.cancel_requested:
                    raise _StoppedError(cancelled=True)
        finally:
            abort.cancel()
            if not job.done():
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await job


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the command's process group, then SIGKILL what is left after a moment."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), _KILL_WAIT)
            return
        except TimeoutError:
            continue
