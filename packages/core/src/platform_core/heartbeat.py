"""Liveness for processes without an HTTP port (workers): a heartbeat file and its checker.

A worker calls :func:`start_heartbeat` (or :func:`heartbeat_from_env`, which reads
``PLATFORM_HEARTBEAT_FILE``) and the file's modification time is refreshed every few seconds
while its event loop turns. A container health check runs
``python -m platform_core.heartbeat FILE MAX_AGE_SECONDS``: exit 0 while the file is fresh,
1 when it is stale or missing — so a wedged loop is reported, not only a dead process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

__all__ = ["ENV_VAR", "check_heartbeat", "heartbeat_from_env", "start_heartbeat"]

ENV_VAR = "PLATFORM_HEARTBEAT_FILE"


async def _beat(path: Path, interval: float) -> None:
    while True:
        path.touch()  # noqa: ASYNC240 - one local utime; a thread hop would cost more
        await asyncio.sleep(interval)


def start_heartbeat(path: str | os.PathLike[str], interval: float = 5.0) -> asyncio.Task[None]:
    """Touch ``path`` every ``interval`` seconds from the running loop; cancel the task to stop.

    Args:
        path: The heartbeat file; its parent folder must exist.
        interval: Seconds between touches.
    """
    target = Path(path)
    target.touch()
    return asyncio.get_running_loop().create_task(_beat(target, interval), name="heartbeat")


def heartbeat_from_env(interval: float = 5.0) -> asyncio.Task[None] | None:
    """Start a heartbeat when ``PLATFORM_HEARTBEAT_FILE`` is set; return None otherwise."""
    path = os.environ.get(ENV_VAR)
    return start_heartbeat(path, interval) if path else None


def check_heartbeat(path: str | os.PathLike[str], max_age: float) -> bool:
    """Whether ``path`` exists and was touched less than ``max_age`` seconds ago."""
    with contextlib.suppress(OSError):
        return time.time() - Path(path).stat().st_mtime < max_age
    return False


def main(argv: list[str] | None = None) -> int:
    """``python -m platform_core.heartbeat FILE MAX_AGE``: 0 if fresh, 1 if stale, 2 on usage."""
    args = sys.argv[1:] if argv is None else argv
    if args in (["-h"], ["--help"]):
        print(
            "usage: python -m platform_core.heartbeat FILE MAX_AGE_SECONDS\n\n"
            "Exit 0 when FILE was touched less than MAX_AGE_SECONDS ago, 1 when it is older or\n"
            "missing, 2 on a usage error. Use it as a container health check for workers\n"
            "that refresh the file named by PLATFORM_HEARTBEAT_FILE."
        )
        return 0
    if len(args) != 2:
        print("usage: python -m platform_core.heartbeat FILE MAX_AGE_SECONDS", file=sys.stderr)
        return 2
    try:
        max_age = float(args[1])
    except ValueError:
        print(f"MAX_AGE_SECONDS must be a number, got {args[1]!r}", file=sys.stderr)
        return 2
    return 0 if check_heartbeat(args[0], max_age) else 1


if __name__ == "__main__":
    raise SystemExit(main())
