"""The worker's settings and the heartbeat that keeps one task's lease alive."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass

from platform_core.logging import get_logger
from taskqueue.async_client import AsyncTaskQueueClient
from taskqueue.errors import LeaseLostError, NotFoundError, TaskQueueError
from taskqueue.models import ClaimedTask
from taskqueue.retry import RetryConfig

__all__ = ["ONCE", "Lease", "WorkerConfig", "default_worker_id"]

_log = get_logger("taskqueue.worker")
ONCE = RetryConfig(max_retries=0)
"""The worker runs its own retry loops: each client call it makes is tried once."""


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
        claim_wait: Seconds the server may hold an empty claim (long poll, at most 30).
        shutdown_timeout: Seconds running commands get to finish after :meth:`Worker.stop`.
        work_dir: Where commands run when the task names no ``working_directory``; None
            makes a fresh temporary directory per task, removed when the task ends.
        exit_when_idle: Return once the server has no Pending task and nothing runs here
            (batch jobs, tests).
        report_backoff_max: The longest pause between two tries of a report.
        kill_wait: Seconds between SIGTERM and SIGKILL when a command is stopped.
        batch_reports: Send the results that finish together in one request
            (``POST /api/workers/report``); off, every result is its own request.
        claim_gather: While tasks run and fewer than half the slots are free, wait up to this
            many seconds for more to free before claiming, so one claim leases several tasks
            (0: claim for every free slot at once). An idle worker claims at once.
    """

    worker_id: str
    concurrency: int = 1
    lease_seconds: int = 60
    claim_wait: float = 10.0
    shutdown_timeout: float = 30.0
    work_dir: str | None = None
    exit_when_idle: bool = False
    report_backoff_max: float = 5.0
    kill_wait: float = 5.0
    batch_reports: bool = True
    claim_gather: float = 0.05


class Lease:
    """Heartbeats one task's lease until closed; notes a cancellation or a lost lease."""

    def __init__(
        self, client: AsyncTaskQueueClient, config: WorkerConfig, task: ClaimedTask
    ) -> None:
        self.client = client
        self.config = config
        self.task = task
        self.lost = asyncio.Event()  # lost, or cancelled: either way, stop
        self.cancelled = False
        self._beat = asyncio.create_task(self._run())

    async def _run(self) -> None:
        cfg = self.config
        interval = max(cfg.lease_seconds / 3, 0.1)
        while True:
            await asyncio.sleep(interval)
            try:
                beat = await self.client.heartbeat(
                    self.task.id,
                    cfg.worker_id,
                    cfg.lease_seconds,
                    lease_token=self.task.lease_token,
                    retry=ONCE,
                )
            except (LeaseLostError, NotFoundError) as exc:
                _log.warning("taskqueue.task.lease_lost", task_id=str(self.task.id), error=str(exc))
                self.lost.set()
                return
            except TaskQueueError as exc:
                _log.warning(
                    "taskqueue.task.heartbeat_failed", task_id=str(self.task.id), error=str(exc)
                )
                continue
            if beat.cancel_requested:
                self.cancelled = True
                self.lost.set()
                return

    async def close(self) -> None:
        """Stop heartbeating (the lease itself ends with the task's report)."""
        self._beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._beat
