"""``taskqueue worker``: run tasks from the queue until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from platform_core.logging import configure_logging
from taskqueue.cli._common import CliState, err, handle_errors, pass_state
from taskqueue.models.workers import CLAIM_WAIT_MAX_SECONDS

if TYPE_CHECKING:
    from taskqueue.worker import WorkerConfig


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Tasks run at the same time.",
)
@click.option(
    "--lease",
    "lease_seconds",
    type=click.IntRange(1, 3600),
    default=60,
    show_default=True,
    help="Lease seconds; heartbeats every third of it.",
)
@click.option(
    "--claim-wait",
    type=click.FloatRange(0, CLAIM_WAIT_MAX_SECONDS),
    default=10.0,
    show_default=True,
    help="Seconds the server may hold an empty claim (long poll); a new task is picked up "
    "as soon as it is runnable.",
)
@click.option(
    "--claim-gather",
    type=click.FloatRange(0, 5),
    default=0.05,
    show_default=True,
    help="While tasks run and fewer than half the slots are free, wait up to this many "
    "seconds for more before claiming, so one claim leases several tasks (0: never wait).",
)
@click.option(
    "--shutdown-timeout",
    "--grace-period",
    "shutdown_timeout",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="Seconds running commands get to finish after SIGTERM; then they are killed and "
    "their tasks handed back to Pending (not counted as an attempt).",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Run commands here when the task names no working_directory "
    "[default: a fresh temporary directory per task, removed afterwards].",
)
@click.option("--worker-id", default=None, help="Defaults to <hostname>-<pid>.")
@click.option(
    "--exit-when-idle", is_flag=True, help="Stop once the server has no Pending or Running task."
)
@click.option("--log-level", default="INFO", show_default=True)
@click.option(
    "--verbose", is_flag=True, help="Also log every HTTP request to the server (httpx INFO lines)."
)
@pass_state
@handle_errors
def worker(
    state: CliState,
    concurrency: int,
    lease_seconds: int,
    claim_wait: float,
    claim_gather: float,
    shutdown_timeout: float,
    work_dir: Path | None,
    worker_id: str | None,
    exit_when_idle: bool,
    log_level: str,
    verbose: bool,
) -> None:
    """Claim tasks and run each command in a subprocess, heartbeating its lease.

    A failed run is reported as one failed attempt; the server schedules the retry. A
    finished command's result is reported until the server takes it, through outages.
    SIGTERM or Ctrl-C stops claiming and lets running tasks finish (up to
    --shutdown-timeout; a second signal stops them at once); what is still running then is
    killed and handed back to the queue. If the worker is killed, its commands die with it.
    While it runs, the file named by PLATFORM_HEARTBEAT_FILE (when set) is touched every few
    seconds.
    """
    # The client and worker (httpx among them) load here, not for --help.
    from taskqueue.worker import WorkerConfig, default_worker_id

    configure_logging(log_level.upper(), fmt="json" if state.json else "console")
    # httpx logs each request at INFO: one line per claim and heartbeat.
    logging.getLogger("httpx").setLevel(logging.NOTSET if verbose else logging.WARNING)
    config = WorkerConfig(
        worker_id=worker_id or default_worker_id(),
        concurrency=concurrency,
        lease_seconds=lease_seconds,
        claim_wait=claim_wait,
        claim_gather=claim_gather,
        shutdown_timeout=shutdown_timeout,
        work_dir=str(work_dir.resolve()) if work_dir is not None else None,
        exit_when_idle=exit_when_idle,
    )
    asyncio.run(_run(state, config))


def _pidfd_child_watcher() -> Callable[[], None]:
    """On Python 3.11 asyncio waits for each subprocess in a thread of its own (its default
    ``ThreadedChildWatcher``): one thread started per task. A pidfd watched by the event loop
    needs none; 3.12 and later choose it themselves where the kernel has pidfds.

    Returns:
        What puts the default back when the worker's loop ends: the watcher is process-wide
        and bound to this loop, so a later loop in the same process (the CLI run in-process,
        as a test or an embedding program does) could not start subprocesses otherwise.
    """
    if sys.version_info >= (3, 12) or sys.platform != "linux":
        return lambda: None
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # a kernel without pidfds (before 5.3): keep the default watcher
        return lambda: None
    previous = asyncio.get_child_watcher()  # 3.11's default: a ThreadedChildWatcher
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(asyncio.get_running_loop())  # the loop is running already
    asyncio.set_child_watcher(watcher)

    def restore() -> None:
        asyncio.set_child_watcher(previous)
        watcher.close()

    return restore


async def _run(state: CliState, config: WorkerConfig) -> None:
    restore_watcher = _pidfd_child_watcher()
    try:
        await _serve(state, config)
    finally:
        restore_watcher()


async def _serve(state: CliState, config: WorkerConfig) -> None:
    from platform_core.heartbeat import heartbeat_from_env
    from taskqueue.async_client import AsyncTaskQueueClient
    from taskqueue.worker import Worker

    async with AsyncTaskQueueClient(state.base_url, state.api_key) as client:
        runner = Worker(client, config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.stop)
        beat = heartbeat_from_env()
        try:
            await runner.run()
        finally:
            if beat is not None:
                beat.cancel()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    err.print(
        f"worker stopped: {runner.completed} completed, {runner.failed} failed, "
        f"{runner.released} handed back"
    )
