"""``taskqueue mcp``: the Task Queue as MCP tools for an AI assistant, over stdio."""

from __future__ import annotations

import asyncio

import click

from platform_core.logging import configure_logging
from taskqueue.cli._common import CliState, pass_state


@click.command()
@click.option(
    "--read-only",
    is_flag=True,
    help="Offer only the tools that read (no create_task, cancel_task, retry_task).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="warning",
    show_default=True,
    help="Log level; logs go to stderr (stdout carries the protocol).",
)
@pass_state
def mcp(state: CliState, read_only: bool, log_level: str) -> None:
    """Serve the task queue to an MCP client over stdin/stdout.

    It calls the API at TASKQUEUE_BASE_URL with TASKQUEUE_API_KEY (or --base-url/--api-key);
    needs the mcp extra: pip install 'taskqueue-sdk[mcp]'.
    """
    try:
        from taskqueue.mcp import create_mcp_server, shared_client_provider
    except ImportError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(log_level.upper(), fmt="json")

    from taskqueue.async_client import AsyncTaskQueueClient

    async def serve() -> None:
        async with AsyncTaskQueueClient(state.base_url, state.api_key) as client:
            server = create_mcp_server(shared_client_provider(client), read_only=read_only)
            await server.run_stdio_async()

    asyncio.run(serve())
