"""``taskqueue tasks ...``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from taskqueue.cli._common import (
    CliState,
    details,
    emit_json,
    err,
    handle_errors,
    json_option,
    out,
    parse_env,
    pass_state,
    table,
)
from taskqueue.errors import ValidationError
from taskqueue.models import (
    BatchItemResult,
    BatchResult,
    Task,
    TaskFilters,
    TaskPriority,
    TaskStatus,
    TaskType,
)

PRIORITIES = click.Choice([p.value for p in TaskPriority])
TYPES = click.Choice([t.value for t in TaskType])
STATUSES = click.Choice([s.value for s in TaskStatus])
TASK_FIELDS = (
    "id",
    "name",
    "command",
    "status",
    "priority",
    "task_type",
    "project_id",
    "dependencies",
    "timeout",
    "retry_attempts",
    "retry_delay",
    "attempts",
    "created_at",
    "updated_at",
    "result",
)
BATCH_CHUNK = 100


@click.group()
def tasks() -> None:
    """Create, inspect and change tasks."""


def _show(state: CliState, task: Task, title: str = "task") -> None:
    if not emit_json(state, task):
        details(title, task, TASK_FIELDS)


@tasks.command()
@click.option("--name", help="Short human name.")
@click.option("--command", "command_", help="The shell command a worker runs.")
@click.option("--description")
@click.option("--priority", type=PRIORITIES, default="Normal", show_default=True)
@click.option("--type", "task_type", type=TYPES, default="Simple", show_default=True)
@click.option("--project-id")
@click.option("--depends-on", multiple=True, help="A task id that must complete first.")
@click.option("--timeout", type=int, help="Seconds a run may take.")
@click.option("--retries", type=int, default=3, show_default=True, help="Extra runs on failure.")
@click.option("--retry-delay", type=float, default=30.0, show_default=True)
@click.option("--env", multiple=True, help="KEY=VALUE for the command's environment.")
@click.option("--workdir", help="Directory the command runs in.")
@click.option("-i", "--interactive", is_flag=True, help="Ask for each field.")
@json_option
@pass_state
@handle_errors
def create(state: CliState, /, interactive: bool, **opts: Any) -> None:
    """Create a task."""
    if interactive:
        opts["name"] = click.prompt("Name", default=opts["name"])
        opts["command_"] = click.prompt("Command", default=opts["command_"])
        opts["description"] = click.prompt("Description", default="", show_default=False) or None
        opts["priority"] = click.prompt("Priority", type=PRIORITIES, default=opts["priority"])
        opts["task_type"] = click.prompt("Type", type=TYPES, default=opts["task_type"])
        opts["timeout"] = (
            click.prompt("Timeout in seconds (0 for none)", type=int, default=0) or None
        )
    if not opts["name"] or not opts["command_"]:
        raise click.UsageError("--name and --command are required (or use --interactive)")
    fields = {
        "name": opts["name"],
        "command": opts["command_"],
        "description": opts["description"],
        "priority": opts["priority"],
        "task_type": opts["task_type"],
        "project_id": opts["project_id"],
        "dependencies": list(opts["depends_on"]),
        "timeout": opts["timeout"],
        "retry_attempts": opts["retries"],
        "retry_delay": opts["retry_delay"],
        "environment": parse_env(opts["env"]),
        "working_directory": opts["workdir"],
    }
    _show(state, state.client().create_task(fields), "created")


@tasks.command()
@click.argument("task_id")
@json_option
@pass_state
@handle_errors
def get(state: CliState, task_id: str) -> None:
    """Show one task."""
    _show(state, state.client().get_task(task_id))


@tasks.command(name="list")
@click.option("--status", type=STATUSES)
@click.option("--priority", type=PRIORITIES)
@click.option("--type", "task_type", type=TYPES)
@click.option("--project-id")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--all", "all_", is_flag=True, help="Every matching task, across pages.")
@json_option
@pass_state
@handle_errors
def list_(state: CliState, /, limit: int, all_: bool, **filters: Any) -> None:
    """List tasks, newest pages first as the server orders them."""
    try:
        flt = TaskFilters.model_validate({k: v for k, v in filters.items() if v is not None})
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    client = state.client()
    total: int | None
    if all_:
        rows = list(client.iter_tasks(flt, page_size=limit))
        total = len(rows)
    else:
        page = client.list_tasks(flt, limit=limit)
        rows, total = page.tasks, page.total
    if emit_json(state, rows):
        return
    table(
        f"tasks ({len(rows)} of {'?' if total is None else total})",
        ["id", "name", "status", "priority", "type"],
        ((t.id, t.name, t.status, t.priority, t.task_type) for t in rows),
    )


@tasks.command()
@click.argument("task_id")
@click.option("--name")
@click.option("--command", "command_")
@click.option("--description")
@click.option("--priority", type=PRIORITIES)
@click.option("--timeout", type=int)
@click.option("--retries", type=int)
@json_option
@pass_state
@handle_errors
def update(state: CliState, /, task_id: str, **opts: Any) -> None:
    """Change the given fields of a task."""
    names = {"command_": "command", "retries": "retry_attempts"}
    fields = {names.get(k, k): v for k, v in opts.items() if v is not None}
    if not fields:
        raise click.UsageError("give at least one field to change, e.g. --priority High")
    _show(state, state.client().update_task(task_id, fields), "updated")


@tasks.command()
@click.argument("task_id")
@click.option("--reason")
@json_option
@pass_state
@handle_errors
def cancel(state: CliState, task_id: str, reason: str | None) -> None:
    """Cancel a task."""
    _show(state, state.client().cancel_task(task_id, reason), "cancelled")


@tasks.command()
@click.argument("task_id")
@json_option
@pass_state
@handle_errors
def retry(state: CliState, task_id: str) -> None:
    """Run a Failed or Cancelled task again (with the dependents it kept from running)."""
    _show(state, state.client().retry_task(task_id), "queued again")


@tasks.command()
@click.argument("task_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
@handle_errors
def delete(state: CliState, task_id: str, yes: bool) -> None:
    """Delete a task."""
    if not yes:
        click.confirm(f"Delete task {task_id}?", abort=True)
    state.client().delete_task(task_id)
    if not state.json:
        out.print(f"deleted {task_id}")


@tasks.command()
@click.argument("task_id")
@click.option("--timeout", type=float, help="Seconds to wait at most.")
@click.option("--poll-interval", type=float, default=0.5, show_default=True)
@json_option
@pass_state
@handle_errors
def wait(state: CliState, task_id: str, timeout: float | None, poll_interval: float) -> None:
    """Wait until a task is Completed, Failed or Cancelled; exit 1 unless Completed."""
    client = state.client()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
        disable=state.json,
    ) as progress:
        bar = progress.add_task(f"waiting for {task_id}", total=None)

        def show(task: Task) -> None:
            progress.update(bar, description=f"{task.name}: {task.status}")

        task = client.wait_for_completion(
            task_id, timeout, poll_interval=poll_interval, on_update=show
        )
    _show(state, task, "finished")
    if task.status not in (TaskStatus.COMPLETED, TaskStatus.FINALIZED):
        raise SystemExit(1)


def _read_batch(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise click.BadParameter(
                f"{path} is neither a JSON array nor JSON lines: {exc}", param_hint="FILE"
            ) from exc
    if isinstance(data, dict) and isinstance(data.get("tasks"), list):
        data = data["tasks"]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise click.BadParameter(f"{path} must hold a list of task objects", param_hint="FILE")
    return data


@tasks.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_state
@handle_errors
def batch(state: CliState, file: Path) -> None:
    """Create every task in FILE (a JSON array or JSON lines); exit 1 if any failed."""
    from taskqueue._base import validate_creates

    items = _read_batch(file)
    client = state.client()
    try:
        validate_creates(items)
    except ValidationError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise SystemExit(1) from exc
    results: list[BatchItemResult] = []
    with Progress(
        TextColumn("creating"), BarColumn(), MofNCompleteColumn(), console=err, disable=state.json
    ) as progress:
        bar = progress.add_task("batch", total=len(items))
        for start in range(0, len(items), BATCH_CHUNK):
            chunk = items[start : start + BATCH_CHUNK]
            part = client.create_tasks(chunk)
            results.extend(r.model_copy(update={"index": r.index + start}) for r in part.results)
            progress.advance(bar, len(chunk))
    result = BatchResult(results=results)
    if not emit_json(state, result):
        table(
            f"batch: {len(result.succeeded)} created, {len(result.failed)} failed",
            ["#", "ok", "task / error"],
            (
                (
                    r.index,
                    "yes" if r.ok else "no",
                    r.task.id if r.task else (r.error.detail if r.error else ""),
                )
                for r in results
            ),
        )
    if not result.all_ok:
        raise SystemExit(1)
