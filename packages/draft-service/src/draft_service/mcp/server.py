"""The MCP server: draft tools and resources over :class:`DraftApiClient`."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from draft_service.errors import DraftApiError, DraftJobFailedError
from draft_service.mcp.client import DraftApiClient
from draft_service.mcp.waiting import DraftOutcome, follow_job
from draft_service.models import (
    DraftDetail,
    DraftListResponse,
    FeedbackRequest,
    JobView,
    MessageResponse,
    RejectRequest,
    SendMessagesRequest,
)

__all__ = [
    "MUTATING_TOOLS",
    "READ_ONLY_TOOLS",
    "ClientProvider",
    "create_mcp_server",
    "shared_client_provider",
]

ClientProvider = Callable[[Context], AbstractAsyncContextManager[DraftApiClient]]
"""Gives the client one tool call or resource read goes through, given its request context
(stdio: one shared client; HTTP: a client carrying the caller's API key)."""

READ_ONLY_TOOLS = frozenset({"get_draft", "list_drafts", "get_job"})
"""Tools that only read (``readOnlyHint: true``)."""
MUTATING_TOOLS = frozenset({"send_thread", "give_feedback", "reject_draft", "retry_job"})
"""Tools that change drafts; ``reject_draft`` is also ``destructiveHint: true``."""

_READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
_WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False)
_UserId = Annotated[str, Field(min_length=1, max_length=200, description="The user's id.")]
_DraftId = Annotated[str, Field(min_length=1, max_length=200, description="The draft's id.")]
_JobId = Annotated[str, Field(min_length=1, max_length=200, description="The job's id.")]
_Wait = Annotated[
    bool,
    Field(description="Wait for the draft, streaming progress; false returns once queued."),
]
_Timeout = Annotated[
    float,
    Field(gt=0, le=600, description="Seconds to wait; on timeout the job is returned as is."),
]

_INSTRUCTIONS = (
    "Tools for a draft service that writes replies to message threads: send a "
    "thread's messages and get the drafted reply, read a draft and its revisions, "
    "revise it from feedback, reject it, retry a failed job, list a user's drafts. "
    "Every tool takes the user_id the drafts belong to. Errors are JSON problem "
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
                f"{name} changes drafts and this server offers only read-only tools: "
                f"{self._refusal}"
            )
        return await super().call_tool(name, arguments, context)


def shared_client_provider(client: DraftApiClient) -> ClientProvider:
    """A provider that hands every call the same client (stdio: one service, one key).

    Args:
        client: The client to use; its owner closes it.
    """

    @asynccontextmanager
    async def provide(_: Context) -> AsyncIterator[DraftApiClient]:
        yield client

    return provide


def create_mcp_server(
    clients: ClientProvider,
    *,
    read_only: bool = False,
    refusal: str = "this server was started read-only",
    name: str = "draft-service",
) -> MCPServer:
    """Build the draft service's MCP server.

    Tools return the API's models (their JSON schemas are the tools' output schemas, results
    come back as ``structuredContent``); an API error comes back as a tool error
    (``isError: true``) whose text is the problem details as JSON. ``send_thread``,
    ``give_feedback`` and ``retry_job`` wait for the draft and send MCP progress
    notifications (the job's state changes and the text growing) while it is written.

    Args:
        clients: Where each call gets its API client.
        read_only: Register only the tools in :data:`READ_ONLY_TOOLS`; the mutating ones are
            then not listed at all, and a call to one is a tool error saying why.
        refusal: Why the mutating tools are missing, for that tool error (e.g. the caller's
            role).
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
    return server


def _add_read_tools(server: MCPServer, clients: ClientProvider) -> None:
    @server.tool(title="Get a draft", annotations=_READ)
    async def get_draft(
        user_id: _UserId, draft_message_id: _DraftId, ctx: Context
    ) -> Annotated[CallToolResult, DraftDetail]:
        """A draft: its current text, its status (open, rejected, superseded) and its
        revisions, each with the feedback it answers and its provenance."""
        async with clients(ctx) as client:
            return await _answer(client.draft(user_id, draft_message_id))

    @server.tool(title="List a user's drafts", annotations=_READ)
    async def list_drafts(
        user_id: _UserId, ctx: Context
    ) -> Annotated[CallToolResult, DraftListResponse]:
        """The user's current drafts (neither rejected nor superseded), one per thread."""
        async with clients(ctx) as client:
            return await _answer(client.drafts(user_id))

    @server.tool(title="Get a job", annotations=_READ)
    async def get_job(
        user_id: _UserId, job_id: _JobId, ctx: Context
    ) -> Annotated[CallToolResult, JobView]:
        """A drafting job's state (queued, running, done, truncated, failed, discarded), its
        attempts, its error and the draft it wrote."""
        async with clients(ctx) as client:
            return await _answer(client.job(job_id, user_id))


def _add_mutating_tools(server: MCPServer, clients: ClientProvider) -> None:
    @server.tool(title="Send a thread and draft a reply", annotations=_WRITE)
    async def send_thread(
        thread: SendMessagesRequest,
        ctx: Context,
        wait: _Wait = True,
        timeout_seconds: _Timeout = 120.0,
    ) -> Annotated[CallToolResult, DraftOutcome]:
        """Store new messages of a thread (date YYYY-MM-DD, time HH:MM:SS) and draft the
        user's reply. Waits for the draft while it is written (progress notifications carry
        the job's state and the text so far) and returns the job and the draft."""
        async with clients(ctx) as client:

            async def run() -> DraftOutcome:
                accepted = await client.send_messages(thread)
                return await follow_job(
                    client, accepted.job_id, thread.user_id, ctx, wait, timeout_seconds
                )

            return await _answer(run())

    @server.tool(title="Revise a draft from feedback", annotations=_WRITE)
    async def give_feedback(
        user_id: _UserId,
        draft_message_id: _DraftId,
        feedback: Annotated[str, Field(min_length=1, max_length=20_000)],
        ctx: Context,
        wait: _Wait = True,
        timeout_seconds: _Timeout = 120.0,
    ) -> Annotated[CallToolResult, DraftOutcome]:
        """Ask for a new revision of an open draft following the feedback; waits for it like
        send_thread. A rejected or superseded draft cannot be revised (409)."""
        async with clients(ctx) as client:

            async def run() -> DraftOutcome:
                body = FeedbackRequest(
                    user_id=user_id, draft_message_id=draft_message_id, feedback=feedback
                )
                accepted = await client.process_feedback(body)
                return await follow_job(
                    client, accepted.job_id, user_id, ctx, wait, timeout_seconds
                )

            return await _answer(run())

    @server.tool(
        title="Reject a draft",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True
        ),
    )
    async def reject_draft(
        user_id: _UserId, draft_message_id: _DraftId, ctx: Context
    ) -> Annotated[CallToolResult, MessageResponse]:
        """Reject a draft: it leaves the user's list and takes no more feedback."""
        async with clients(ctx) as client:
            body = RejectRequest(user_id=user_id, draft_message_id=draft_message_id)
            return await _answer(client.reject(body))

    @server.tool(title="Retry a failed job", annotations=_WRITE)
    async def retry_job(
        user_id: _UserId,
        job_id: _JobId,
        ctx: Context,
        wait: _Wait = True,
        timeout_seconds: _Timeout = 120.0,
    ) -> Annotated[CallToolResult, DraftOutcome]:
        """Queue a failed job again and wait for its draft like send_thread. Only a failed job
        that newer messages have not overtaken can be retried (409 says why not)."""
        async with clients(ctx) as client:

            async def run() -> DraftOutcome:
                await client.retry_job(job_id, user_id)
                return await follow_job(client, job_id, user_id, ctx, wait, timeout_seconds)

            return await _answer(run())


def _add_resources(server: MCPServer, clients: ClientProvider) -> None:
    @server.resource(
        "drafts://users/{user_id}/drafts/{draft_message_id}",
        name="draft",
        mime_type="application/json",
    )
    async def draft_resource(user_id: str, draft_message_id: str, ctx: Context) -> str:
        """A draft and its lineage: every revision with its feedback and provenance."""
        async with clients(ctx) as client:
            try:
                detail = await client.draft(user_id, draft_message_id)
            except DraftApiError as exc:
                raise _resource_error(exc) from exc
        return detail.model_dump_json()

    @server.resource(
        "drafts://users/{user_id}/threads/{thread_name}",
        name="thread",
        mime_type="application/json",
    )
    async def thread_resource(user_id: str, thread_name: str, ctx: Context) -> str:
        """A thread's current draft with its lineage (the API keeps the thread's messages to
        itself: they reach only the prompt)."""
        async with clients(ctx) as client:
            try:
                listed = await client.drafts(user_id)
                drafts = [
                    await client.draft(user_id, d.draft_message_id)
                    for d in listed.draft_messages
                    if d.thread_name == thread_name
                ]
            except DraftApiError as exc:
                raise _resource_error(exc) from exc
        if not drafts:
            problem = {
                "title": "Not Found",
                "status": 404,
                "detail": f"user {user_id!r} has no current draft in thread {thread_name!r}",
            }
            raise ResourceNotFoundError(json.dumps(problem))
        body: dict[str, Any] = {
            "user_id": user_id,
            "thread_name": thread_name,
            "drafts": [d.model_dump(mode="json") for d in drafts],
        }
        return json.dumps(body)


def _resource_error(exc: DraftApiError) -> ResourceError:
    text = json.dumps(exc.problem, default=str)
    return ResourceNotFoundError(text) if exc.status_code == 404 else ResourceError(text)


async def _answer(call: Awaitable[BaseModel]) -> CallToolResult:
    """Run an API call: its model as ``structuredContent`` (and as JSON text for clients that
    read only text), or an API error as ``isError`` with the problem details as JSON text."""
    try:
        model = await call
    except (DraftApiError, DraftJobFailedError) as exc:
        text = json.dumps(exc.problem, default=str)
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
    return CallToolResult(
        content=[TextContent(type="text", text=model.model_dump_json())],
        structured_content=model.model_dump(mode="json"),
    )
