"""The ``taskqueue`` command line.

Exit codes: 0 ok, 1 the request failed (or the task did not complete), 2 usage error.
"""

from __future__ import annotations

import click

from taskqueue.cli._common import CliState
from taskqueue.cli.keys import keys
from taskqueue.cli.mcp import mcp
from taskqueue.cli.projects import projects
from taskqueue.cli.tasks import tasks
from taskqueue.cli.webhooks import webhooks
from taskqueue.cli.worker import worker

__all__ = ["cli", "main"]

VERSION = "0.1.0"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--base-url",
    envvar="TASKQUEUE_BASE_URL",
    default=None,
    help="Server URL [env TASKQUEUE_BASE_URL; default http://localhost:8080].",
)
@click.option(
    "--api-key", envvar="TASKQUEUE_API_KEY", default=None, help="API key [env TASKQUEUE_API_KEY]."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def cli(ctx: click.Context, base_url: str | None, api_key: str | None, as_json: bool) -> None:
    """Work with a Task Queue server: tasks, projects, webhooks, API keys, and a worker."""
    ctx.obj = CliState(base_url=base_url, api_key=api_key, json=as_json)


@cli.command()
@click.pass_obj
def version(state: CliState) -> None:
    """Print the SDK version."""
    click.echo(f'{{"version": "{VERSION}"}}' if state.json else f"taskqueue-sdk {VERSION}")


cli.add_command(tasks)
cli.add_command(projects)
cli.add_command(webhooks)
cli.add_command(worker)
cli.add_command(keys)
cli.add_command(mcp)


def main() -> None:
    """The console-script entry point."""
    cli(prog_name="taskqueue")
