"""Processes the fixtures start: each leads a process group of its own, stopped whole.

A server started through a wrapper (``noida-db``'s Python entry point runs the real binary as
a child) leaves the child behind when only the wrapper is signalled. Starting every server in a
new session and signalling the group stops the whole tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

__all__ = ["group_members", "spawn", "stop_group"]


def spawn(args: list[str]) -> subprocess.Popen[bytes]:
    """Start ``args`` as the leader of a new process group, output discarded.

    Everything the process starts stays in its group, so :func:`stop_group` can stop the
    whole tree even when the first process is only a wrapper around the real server.
    """
    return subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def group_members(pgid: int) -> list[int]:
    """The ids of the live processes in process group ``pgid`` (read from ``/proc``)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # Fields after the command name (which may hold spaces) start at the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop ``proc`` and every process of its group (SIGTERM, then SIGKILL after ``timeout``).

    Args:
        proc: A process started by :func:`spawn`; its pid is its group's id.
        timeout: Seconds the group gets to exit after SIGTERM.
    """
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    proc.wait()
