"""An MCP server for the draft service: its tools and resources for AI assistants.

Needs the ``draft-service[mcp]`` extra (the official ``mcp`` SDK); ``import draft_service``
never does. :func:`create_mcp_server` builds the server over any source of
:class:`DraftApiClient` (``draft-service mcp`` serves it over stdio against a running API;
the draft API app mounts it at ``/mcp`` with a client per caller). Every rule stays in the
API: the tools only call it.
"""

from __future__ import annotations

try:
    import mcp as _mcp  # noqa: F401
except ImportError as exc:
    raise ImportError(
        "draft_service.mcp needs the mcp extra (missing module "
        f"{exc.name!r}): pip install 'draft-service[mcp]'",
        name=exc.name,
    ) from exc

from draft_service.mcp.client import FINAL_JOB_STATES, DraftApiClient, JobEvent, JobEventSource
from draft_service.mcp.server import (
    MUTATING_TOOLS,
    READ_ONLY_TOOLS,
    ClientProvider,
    create_mcp_server,
    shared_client_provider,
)
from draft_service.mcp.waiting import DraftOutcome, follow_job

__all__ = [
    "FINAL_JOB_STATES",
    "MUTATING_TOOLS",
    "READ_ONLY_TOOLS",
    "ClientProvider",
    "DraftApiClient",
    "DraftOutcome",
    "JobEvent",
    "JobEventSource",
    "create_mcp_server",
    "follow_job",
    "shared_client_provider",
]
