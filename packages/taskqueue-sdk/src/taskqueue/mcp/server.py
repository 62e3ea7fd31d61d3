"""The MCP server: Task Queue tools, resources and a planning prompt over the SDK."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, Literal
from uuid import UUID

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from taskqueue.async_client import AsyncTaskQueueClient
from taskqueue.errors import NotFoundError, TaskQueueError
from taskqueue.mcp.graph import TaskGraph, walk_graph
from taskqueue.mcp.problems import problem_of
from taskqueue.mcp.prompts import plan_tasks
from taskqueue.models import Stats, Task, TaskCreateRequest, TaskFilters, TaskList

__all__ = [
    "MUTATING_TOOLS",
    "READ_ONLY_TOOLS",
    "ClientProvider",
    "create_mcp_server",
    "env_client_provider",
    "shared_client_provider",
]

ClientProvider = Callable[[Context], AbstractAsyncContextManager[AsyncTaskQueueClient]]
"""Gives the client one tool call or resource read goes through, given its request context
(stdio: one shared client; HTTP: a client carrying the caller's API key)."""

READ_ONLY_TOOLS = frozenset({"get_task", "list_tasks", "get_stats", "task_graph"})
"""Tools that only read (``readOnlyHint: true``)."""
MUTATING_TOOLS = frozenset({"create_task", "cancel_task", "retry_task"})
"""Tools that change the queue; ``cancel_task`` is also ``destructiveHint: true``."""

_READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)

_INSTRUCTIONS = (
    "Tools for a Task Queue: create tasks (with dependencies), read, list, cancel "
    "and retry them, queue statistics and a task's dependency graph. Errors are JSON problem "
    "details naming the invalid field."
)


class _ReadOnlyServer(MCPServer):
    """A server without the mutating tools that says why when one is called anyway."""

    def __init__(self, name: str, *, refusal: str, instructions: str) -> None:
        super().__init__(name, instructions=instructions)
        self._refusal = refusal

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Refuse a mutating tool by name (a tool error), else call the tool."""
        if name in MUTATING_TOOLS:
            raise ToolError(
                f"{name} changes the queue and this server offers only read-only tools: "
                f"{self._refusal}"
            )
        return await super().call_tool(name, arguments, context)


def shared_client_provider(client: AsyncTaskQueueClient) -> ClientProvider:
    """A provider that hands every call the same client (stdio: one user, one key).

    Args:
        client: The client to use; its owner closes it.
    """

    @asynccontextmanager
    async def provide(_: Context) -> AsyncIterator[AsyncTaskQueueClient]:
        yield client

    return provide


def env_client_provider() -> ClientProvider:
    """A provider that opens a client from ``TASKQUEUE_*`` settings for each call."""

    @asynccontextmanager
    async def provide(_: Context) -> AsyncIterator[AsyncTaskQueueClient]:
        async with AsyncTaskQueueClient() as client:
            yield client

    return provide


def create_mcp_server(
    clients: ClientProvider,
    *,
    read_only: bool = False,
    refusal: str = "this server was started read-only",
    name: str = "taskqueue",
) -> MCPServer:
    """Build the Task Queue MCP server.

    Tools return the SDK's models (their JSON schemas are the tools' output schemas, results
    come back as ``structuredContent``); an API error comes back as a tool error
    (``isError: true``) whose text is the problem details as JSON: ``title``, ``detail``,
    ``status`` and, for invalid input, ``errors`` naming each field.

    Args:
        clients: Where each call gets its SDK client.
        read_only: Register only the tools in :data:`READ_ONLY_TOOLS` (for a caller that may
            only read); the mutating ones are then not listed at all, and a call to one is
            a tool error saying why.
        refusal: Why the mutating tools are missing, for that tool error (e.g. the
            caller's role).
        name: The server's name in the MCP handshake.
    """
    # MCPServer() calls logging.basicConfig (a rich handler on the root logger); a library
    # must leave the host's logging alone, so the root logger is put back as it was.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server: MCPServer = (
        _ReadOnlyServer(name, refusal=refusal, instructions=_INSTRUCTIONS)
        if read_only
        else MCPServer(name, instructions=_INSTRUCTIONS)
    )
    root.handlers[:] = handlers
    root.setLevel(level)
    _add_read_tools(server, clients)
    if not read_only:
        _add_mutating_tools(server, clients)
    _add_resources(server, clients)
    server.prompt(name="plan_tasks", title="Plan a goal as tasks")(plan_tasks)
    return server


def _add_read_tools(server: MCPServer, clients: ClientProvider) -> None:
    @server.tool(title="Get a task", annotations=_READ)
    async def get_task(task_id: UUID, ctx: Context) -> Annotated[CallToolResult, Task]:
        """Return one task: its status, result, attempts, dependencies and timestamps."""
        async with clients(ctx) as client:
            return await _answer(client.get_task(task_id))

    @server.tool(title="List tasks", annotations=_READ)
    async def list_tasks(
        ctx: Context,
        filters: TaskFilters | None = None,
        limit: Annotated[int, Field(description="Tasks per page.")] = 50,
        cursor: Annotated[
            str | None,
            Field(description="The previous page's next_cursor, with the same filters."),
        ] = None,
    ) -> Annotated[CallToolResult, TaskList]:
        """List tasks, oldest first, one page at a time, filtered by status, project,
        priority, type or creation time. Pass next_cursor back as cursor for the next page
        (null on the last one). The API has no free-text search."""
        async with clients(ctx) as client:
            return await _answer(client.list_tasks(filters, limit=limit, cursor=cursor))

    @server.tool(title="Queue statistics", annotations=_READ)
    async def get_stats(ctx: Context) -> Annotated[CallToolResult, Stats]:
        """Counts across the queue: tasks by status, priority and type, projects, active
        workers, runnable tasks and the age of the oldest one."""
        async with clients(ctx) as client:
            return await _answer(client.get_stats())

    @server.tool(title="Dependency graph of a task", annotations=_READ)
    async def task_graph(
        task_id: UUID,
        ctx: Context,
        direction: Literal["upstream", "downstream", "both"] = "both",
        max_depth: Annotated[int, Field(ge=1, le=50)] = 10,
        max_scan: Annotated[int, Field(ge=1, le=100_000)] = 10_000,
    ) -> Annotated[CallToolResult, TaskGraph]:
        """The tasks a task waits for (upstream, negative depth) and the tasks waiting for it
        (downstream, positive depth), each with its status and dependencies. Downstream reads
        the tasks of the root's project (at most max_scan); truncated says when a limit
        stopped the walk. Reports progress (tasks read so far) while it walks."""

        async def progress(read: int, message: str) -> None:
            await ctx.report_progress(read, None, message)

        async with clients(ctx) as client:
            return await _answer(
                walk_graph(client, task_id, direction, max_depth, max_scan, progress)
            )


def _add_mutating_tools(server: MCPServer, clients: ClientProvider) -> None:
    @server.tool(
        title="Create a task",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False
        ),
    )
    async def create_task(task: TaskCreateRequest, ctx: Context) -> Annotated[CallToolResult, Task]:
        """Create a task. dependencies lists the ids of tasks that must complete first (create
        those first and use the ids they return); a worker runs command once they have."""
        async with clients(ctx) as client:
            return await _answer(client.create_task(task))

    @server.tool(
        title="Cancel a task",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False
        ),
    )
    async def cancel_task(
        task_id: UUID, ctx: Context, reason: str | None = None
    ) -> Annotated[CallToolResult, Task]:
        """Cancel a task that has not finished; a running one is stopped by its worker. A
        finished task cannot be cancelled (the API answers 409)."""
        async with clients(ctx) as client:
            return await _answer(client.cancel_task(task_id, reason=reason))

    @server.tool(
        title="Retry a task",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False
        ),
    )
    async def retry_task(task_id: UUID, ctx: Context) -> Annotated[CallToolResult, Task]:
        """Run a Failed or Cancelled task again: Pending at once, attempts from zero; its
        dependents that failed without running because of it are queued again too. Any other
        status is refused (the API answers 409)."""
        async with clients(ctx) as client:
            return await _answer(client.retry_task(task_id))


def _add_resources(server: MCPServer, clients: ClientProvider) -> None:
    @server.resource("taskqueue://tasks/{task_id}", name="task", mime_type="application/json")
    async def task_resource(task_id: str, ctx: Context) -> str:
        """A task as JSON."""
        async with clients(ctx) as client:
            try:
                task = await client.get_task(task_id)
            except TaskQueueError as exc:
                raise _resource_error(exc) from exc
        return task.model_dump_json()

    @server.resource(
        "taskqueue://projects/{project_id}", name="project", mime_type="application/json"
    )
    async def project_resource(project_id: str, ctx: Context) -> str:
        """A project and the first page (100) of its tasks, as JSON."""
        async with clients(ctx) as client:
            try:
                project = await client.get_project(project_id)
                page = await client.list_tasks(TaskFilters(project_id=project.id), limit=100)
            except TaskQueueError as exc:
                raise _resource_error(exc) from exc
        body: dict[str, Any] = {
            "project": project.model_dump(mode="json"),
            "tasks": [t.model_dump(mode="json") for t in page.tasks],
            "next_cursor": page.next_cursor,
        }
        return json.dumps(body)


def _resource_error(exc: TaskQueueError) -> ResourceError:
    text = json.dumps(problem_of(exc), default=str)
    return ResourceNotFoundError(text) if isinstance(exc, NotFoundError) else ResourceError(text)


async def _answer(call: Awaitable[BaseModel]) -> CallToolResult:
    """Run an SDK call: its model as ``structuredContent`` (and as JSON text for clients that
    read only text), or an SDK error as ``isError`` with the problem details as JSON text."""
    try:
        model = await call
    except TaskQueueError as exc:
        text = json.dumps(problem_of(exc), default=str)
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
    return CallToolResult(
        content=[TextContent(type="text", text=model.model_dump_json())],
        structured_content=model.model_dump(mode="json"),
    )
