"""The planning prompt: a goal turned into tasks with dependencies."""

from __future__ import annotations

__all__ = ["plan_tasks"]


def plan_tasks(goal: str, project_id: str | None = None) -> str:
    """Turn a goal into Task Queue tasks with dependencies, then create them.

    Args:
        goal: What should be achieved.
        project_id: The project the tasks belong to, if any.
    """
    project = (
        f'Set "project_id": "{project_id}" on every task.' if project_id else "Use no project."
    )
    return (
        f"Goal: {goal}\n\n"
        "Break this goal into Task Queue tasks. For each task give a short unique name, the "
        "shell command a worker runs, a one-line description, a priority (Low, Normal, High, "
        "Critical) and the names of the tasks it depends on. Keep tasks small enough to run "
        "and check on their own; use dependencies only where one task needs another's "
        "output, so the rest can run in parallel; there must be no cycle.\n\n"
        "First show the plan as a list in dependency order. Then create the tasks with the "
        "create_task tool in that order, putting the ids returned for a task's dependencies "
        f"in its dependencies field. {project} If a call fails, read the error's problem "
        "details (the errors list names the field), fix that field and try again. Finally, "
        "call task_graph on the last task to show the whole graph."
    )
