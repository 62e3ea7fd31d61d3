"""An MCP server for the Task Queue: its tools, resources and a planning prompt.

Needs the ``taskqueue-sdk[mcp]`` extra (the official ``mcp`` SDK); ``import taskqueue`` never
does. :func:`create_mcp_server` builds the server over any source of
:class:`~taskqueue.AsyncTaskQueueClient` (``taskqueue mcp`` serves it over stdio with the
client from the environment; the Task Queue server mounts it at ``/mcp`` with a client per
caller). Every rule stays in the API: the tools only call the SDK.
"""

from __future__ import annotations

try:
    import mcp as _mcp  # noqa: F401
except ImportError as exc:
    raise ImportError(
        "taskqueue.mcp needs the mcp extra (missing module "
        f"{exc.name!r}): pip install 'taskqueue-sdk[mcp]'",
        name=exc.name,
    ) from exc

from taskqueue.mcp.graph import GraphNode, TaskGraph
from taskqueue.mcp.problems import problem_of
from taskqueue.mcp.server import (
    MUTATING_TOOLS,
    READ_ONLY_TOOLS,
    ClientProvider,
    create_mcp_server,
    env_client_provider,
    shared_client_provider,
)

__all__ = [
    "MUTATING_TOOLS",
    "READ_ONLY_TOOLS",
    "ClientProvider",
    "GraphNode",
    "TaskGraph",
    "create_mcp_server",
    "env_client_provider",
    "problem_of",
    "shared_client_provider",
]
