"""A task's timeline and attempts, derived from its row.

The server keeps no history table: a task row holds when it was created and last changed,
its workflow phases (each with start and end), how many runs were started, the last run's
result and the current lease. The timeline is what can honestly be said from that; earlier
runs' results are not stored (each report replaces the last).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Attempts", "Step", "attempts_view", "timeline"]

TAIL_CHARS = 4000
"""Characters of stdout and stderr the task page shows (the end of the stored tail)."""


@dataclass(frozen=True)
class Step:
    """One line of the timeline."""

    at: str
    what: str
    detail: str = ""


@dataclass(frozen=True)
class Attempts:
    """Runs started and the last run's outcome as stored."""

    count: int
    limit: int
    exit_code: int | None
    duration: float | None
    error: str | None
    stdout: str
    stderr: str
    has_result: bool


def timeline(task: dict[str, Any]) -> list[Step]:
    """What happened to ``task``, oldest first (see the module docstring for what is known)."""
    steps = [Step(task["created_at"], "Created", f"as {task['status']}" if task["phases"] else "")]
    for phase in task.get("phases") or []:
        steps.append(Step(phase["started_at"], f"Entered {phase['phase']}"))
        if phase.get("completed_at"):
            steps.append(Step(phase["completed_at"], f"Finished {phase['phase']}"))
    status = task["status"]
    runs = int(task.get("attempts") or 0)
    if status == "Running":
        steps.append(
            Step(
                task["updated_at"],
                f"Claimed by {task.get('worker_id') or 'a worker'}",
                f"run {runs} of at most {int(task['retry_attempts']) + 1}",
            )
        )
    elif status == "Pending" and task.get("run_after"):
        steps.append(
            Step(task["updated_at"], "Run failed, will retry", f"runnable at {task['run_after']}")
        )
    elif status in ("Completed", "Failed", "Cancelled") or (runs and status != "Pending"):
        detail = f"after {runs} run{'s' if runs != 1 else ''}" if runs else "before it ran"
        steps.append(Step(task["updated_at"], status, detail))
    elif task["updated_at"] != task["created_at"] and not task.get("phases"):
        steps.append(Step(task["updated_at"], "Last changed", f"now {status}"))
    return sorted(steps, key=lambda s: s.at)


def attempts_view(task: dict[str, Any]) -> Attempts:
    """The run count and the last run's exit code, duration, error and output tails."""
    result = task.get("result") or {}
    return Attempts(
        count=int(task.get("attempts") or 0),
        limit=int(task.get("retry_attempts") or 0) + 1,
        exit_code=result.get("exit_code"),
        duration=result.get("duration"),
        error=result.get("error"),
        stdout=str(result.get("stdout") or "")[-TAIL_CHARS:],
        stderr=str(result.get("stderr") or "")[-TAIL_CHARS:],
        has_result=bool(result),
    )
