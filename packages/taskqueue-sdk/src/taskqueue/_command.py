"""Run one task's command: its own process group, output tails kept, stopped on demand.

The command runs under a small ``/bin/sh`` wrapper that leads a new process group (and
session). Stopping a command (timeout, cancel, shutdown) SIGTERMs the group, gives it
``kill_wait`` seconds, then SIGKILLs whatever is left of the group. Every process of the
command carries ``TASKQUEUE_WORKER_INSTANCE`` in its environment: when the worker dies, its
watchdog (:mod:`taskqueue._watchdog`) finds them by it and kills them, so a killed worker
leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass

from platform_core.logging import get_logger
from taskqueue.models import TaskResult
from taskqueue.models.tasks import OUTPUT_TAIL_CHARS

__all__ = ["WITHHELD_VARIABLES", "Command", "RunningCommand"]

_log = get_logger("taskqueue.worker")
# The worker's own credentials stay with the worker: a task's command runs whatever its
# producer wrote, so it must not inherit a key that could claim, complete or fail other tasks.
# (A task may still set these in its own environment.)
WITHHELD_VARIABLES = frozenset({"TASKQUEUE_API_KEY"})
# "$1" is the task's command. It runs in the background of a wrapper that survives SIGTERM
# (a handled signal, reset to the default in the command), so a stopped command gets its
# grace period and the wrapper still exits with the command's status.
_WRAPPER = (
    'trap : TERM; eval "$1" & p=$!; wait $p; s=$?; '
    "while kill -0 $p 2>/dev/null; do wait $p; s=$?; done; exit $s"
)


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


@dataclass(frozen=True)
class Command:
    """What to run and where.

    Attributes:
        command: The shell command.
        environment: Variables added to the worker's environment.
        working_directory: Where to run; None makes a fresh temporary directory, removed
            when the command ends.
        timeout: Seconds before the command is stopped; None for no limit.
        kill_wait: Seconds between SIGTERM and SIGKILL when stopping the command.
    """

    command: str
    environment: Mapping[str, str]
    working_directory: str | None
    timeout: float | None
    kill_wait: float = 5.0


class RunningCommand:
    """A started command; await :meth:`wait` for its result, :meth:`stop` to end it early."""

    def __init__(self, spec: Command) -> None:
        self.spec = spec
        self._proc: asyncio.subprocess.Process | None = None
        self._temp: str | None = None
        self._stopped: str | None = None
        self._out, self._err = _Tail(), _Tail()

    async def start(self) -> str | None:
        """Start the command; returns an error message when it could not be started."""
        cwd = self.spec.working_directory
        if cwd is None:
            self._temp = cwd = tempfile.mkdtemp(prefix="taskqueue-task-")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                "/bin/sh",
                "-c",
                _WRAPPER,
                "taskqueue-task",
                self.spec.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**_inherited_environment(), **self.spec.environment},
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            await self._cleanup()
            return f"could not start the command in {cwd}: {exc}"
        return None

    async def wait(self) -> TaskResult:
        """Wait for the command (stopping it at its timeout) and return its outcome."""
        proc = self._proc
        assert proc is not None, "start() first"
        started = time.monotonic()
        readers = asyncio.gather(self._out.drain(proc.stdout), self._err.drain(proc.stderr))
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), self.spec.timeout)
        except TimeoutError:
            self._stopped = self._stopped or f"timed out after {self.spec.timeout} s"
            await self.stop(self._stopped)
        finally:
            if proc.returncode is None:
                await self.stop(self._stopped or "stopped")
            await readers
            await self._cleanup()
        code = proc.returncode
        error = self._stopped
        if error is None and code is not None and code < 0:
            error = f"killed by signal {-code}"
        return TaskResult(
            exit_code=None if error is not None else code,
            stdout=self._out.text(),
            stderr=self._err.text(),
            error=error,
            duration=round(time.monotonic() - started, 3),
        )

    async def stop(self, reason: str, kill_wait: float | None = None) -> None:
        """SIGTERM the command's process group, SIGKILL it after ``kill_wait`` seconds (the
        command's own setting by default)."""
        proc = self._proc
        if proc is None:
            return
        self._stopped = self._stopped or reason
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        wait = self.spec.kill_wait if kill_wait is None else kill_wait
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(proc.wait()), wait)
        # Whatever of the group outlived the wrapper (or ignored SIGTERM) ends now.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()

    async def _cleanup(self) -> None:
        if self._temp is not None:
            temp, self._temp = self._temp, None
            with contextlib.suppress(OSError):  # not empty: removed with its files below
                os.rmdir(temp)  # the common case, the command left nothing behind
                return
            try:  # in a thread: removing a tree can take milliseconds on a busy disk
                await asyncio.to_thread(shutil.rmtree, temp)
            except OSError as exc:  # the command may have made files we cannot delete
                _log.warning("taskqueue.worker.workdir_not_removed", path=temp, error=str(exc))


def _inherited_environment() -> dict[str, str]:
    """The worker's environment without the variables a command must not see."""
    return {k: v for k, v in os.environ.items() if k not in WITHHELD_VARIABLES}
