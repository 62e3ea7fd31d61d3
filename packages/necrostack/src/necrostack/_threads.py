"""A bounded pool of daemon threads for plain (``def``) handlers.

:class:`concurrent.futures.ThreadPoolExecutor` joins its workers when the interpreter exits, so
one handler stuck in a call would keep a stopped worker process alive forever. These threads
are daemons: a handler abandoned after its timeout or at shutdown never delays the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["HandlerThreads"]

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[Any], Any], Any]


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.done():  # cancelled by a timeout or a shutdown: the result is dropped
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


class HandlerThreads:
    """Runs ``fn(arg)`` calls on at most ``size`` daemon threads, started on demand.

    Args:
        size: Most calls running at once; further calls wait in a queue.
        name: Prefix of the threads' names.
    """

    def __init__(self, size: int, name: str = "necrostack-handler") -> None:
        if size < 1:
            raise ValueError(f"handler_threads must be at least 1, got {size}")
        self.size = size
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._busy = 0

    @property
    def busy(self) -> int:
        """Calls running now, abandoned ones included."""
        return self._busy

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> asyncio.Future[Any]:
        """Queue ``fn(arg)``; the returned future (of the running loop) gets its outcome.

        Cancelling the future abandons the call: the thread runs it to its end and the
        result is dropped.
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            if self._idle == 0 and len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work,
                    args=(self._jobs,),
                    name=f"{self._name}-{len(self._threads)}",
                    daemon=True,
                )
                self._threads.append(thread)
                self._idle += 1
                thread.start()
        self._jobs.put((loop, fut, fn, arg))
        return fut

    def shutdown(self) -> None:
        """Let idle threads end; busy ones end after their call. Does not wait."""
        with self._lock:
            for _ in self._threads:
                self._jobs.put(None)
            # Threads started later take jobs from a fresh queue, never these stop markers.
            self._jobs = queue.SimpleQueue()
            self._threads = []
            self._idle = 0

    def _work(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        while True:
            job = jobs.get()
            if job is None:
                return
            loop, fut, fn, arg = job
            with self._lock:
                if jobs is self._jobs:
                    self._idle -= 1
                self._busy += 1
            result: Any = None
            error: BaseException | None = None
            try:
                result = fn(arg)
            except BaseException as exc:  # handed to the awaiting coroutine, never lost
                error = exc
            finally:
                with self._lock:
                    if jobs is self._jobs:
                        self._idle += 1
                    self._busy -= 1
            # RuntimeError: the loop closed while an abandoned call ran; nobody waits for it.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, fut, result, error)
