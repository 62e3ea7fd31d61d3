"""``taskqueue projects ...``."""

from __future__ import annotations

from typing import Any

import click

from taskqueue.cli._common import (
    CliState,
    details,
    emit_json,
    handle_errors,
    json_option,
    out,
    pass_state,
    table,
)
from taskqueue.models import Project, ProjectStatus

STATUSES = click.Choice([s.value for s in ProjectStatus])
FIELDS = ("id", "name", "description", "status", "due_date", "tags", "created_at", "updated_at")


@click.group()
def projects() -> None:
    """Create, inspect and change projects."""


def _show(state: CliState, project: Project, title: str = "project") -> None:
    if not emit_json(state, project):
        details(title, project, FIELDS)


@projects.command()
@click.option("--name", required=True)
@click.option("--description")
@click.option("--status", type=STATUSES, default="Active", show_default=True)
@click.option("--due-date", help="YYYY-MM-DD")
@click.option("--tag", "tags", multiple=True)
@json_option
@pass_state
@handle_errors
def create(state: CliState, /, tags: tuple[str, ...], **opts: Any) -> None:
    """Create a project."""
    fields = {k: v for k, v in opts.items() if v is not None}
    _show(state, state.client().create_project(fields, tags=list(tags)), "created")


@projects.command()
@click.argument("project_id")
@json_option
@pass_state
@handle_errors
def get(state: CliState, project_id: str) -> None:
    """Show one project."""
    _show(state, state.client().get_project(project_id))


@projects.command(name="list")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@json_option
@pass_state
@handle_errors
def list_(state: CliState, limit: int, offset: int) -> None:
    """List projects."""
    page = state.client().list_projects(limit=limit, offset=offset)
    if not emit_json(state, page.projects):
        table(
            f"projects ({len(page.projects)} of {page.total})",
            ["id", "name", "status", "due"],
            ((p.id, p.name, p.status, p.due_date) for p in page.projects),
        )


@projects.command()
@click.argument("project_id")
@click.option("--name")
@click.option("--description")
@click.option("--status", type=STATUSES)
@click.option("--due-date")
@json_option
@pass_state
@handle_errors
def update(state: CliState, /, project_id: str, **opts: Any) -> None:
    """Change the given fields of a project."""
    fields = {k: v for k, v in opts.items() if v is not None}
    if not fields:
        raise click.UsageError("give at least one field to change, e.g. --status OnHold")
    _show(state, state.client().update_project(project_id, fields), "updated")


@projects.command()
@click.argument("project_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
@handle_errors
def delete(state: CliState, project_id: str, yes: bool) -> None:
    """Delete a project."""
    if not yes:
        click.confirm(f"Delete project {project_id}?", abort=True)
    state.client().delete_project(project_id)
    if not state.json:
        out.print(f"deleted {project_id}")
