"""Waiting for a drafting job while reporting its progress to the MCP client."""

from __future__ import annotations

from contextlib import aclosing

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel

from draft_service.errors import DraftJobFailedError
from draft_service.mcp.client import FINAL_JOB_STATES, DraftApiClient
from draft_service.models import DraftDetail, JobView

__all__ = ["DraftOutcome", "follow_job"]


class DraftOutcome(BaseModel):
    """What a drafting tool returns: the job and, once it wrote one, the draft.

    Attributes:
        job: The job's state when the tool returned (``queued`` or ``running`` when it did
            not wait, or the wait timed out; then read it later with ``get_job``).
        draft: The draft with its lineage, when the job wrote one.
    """

    job: JobView
    draft: DraftDetail | None = None


async def follow_job(
    client: DraftApiClient,
    job_id: str,
    user_id: str,
    ctx: Context,
    wait: bool,
    wait_seconds: float,
) -> DraftOutcome:
    """Wait for the job (unless ``wait`` is false), sending a progress notification for each
    of its events: a state change (``job running``) or more text (``drafting: 120
    characters``). Progress counts the events seen; there is no total. After
    ``wait_seconds`` it returns the job as it is then (``running``).

    Args:
        client: The API client the reads go through.
        job_id: The job to follow.
        user_id: Its owner.
        ctx: The tool call's context (where progress goes).
        wait: False: return the job's state now, without waiting.
        wait_seconds: The longest wait.

    Raises:
        DraftApiError: the API refused a read.
        DraftJobFailedError: the job ended ``failed`` or ``discarded``.
    """
    view = await client.job(job_id, user_id)
    if wait and view.status not in FINAL_JOB_STATES:
        await _report(client, job_id, user_id, ctx, wait_seconds)
        view = await client.job(job_id, user_id)
    if view.status in ("failed", "discarded"):
        raise DraftJobFailedError(_failure(view), problem=_problem(view))
    draft = None
    if view.draft_message_id is not None and view.status in FINAL_JOB_STATES:
        draft = await client.draft(user_id, view.draft_message_id)
    return DraftOutcome(job=view, draft=draft)


async def _report(
    client: DraftApiClient, job_id: str, user_id: str, ctx: Context, wait_seconds: float
) -> None:
    seen, chars = 0, 0
    with anyio.move_on_after(wait_seconds):
        async with aclosing(client.job_events(job_id, user_id)) as events:
            async for event_type, payload in events:
                seen += 1
                if event_type == "delta":
                    chars += len(str(payload.get("text", "")))
                    await ctx.report_progress(seen, None, f"drafting: {chars} characters")
                elif event_type == "state":
                    status = str(payload.get("status", ""))
                    await ctx.report_progress(seen, None, f"job {status}")
                    if status in FINAL_JOB_STATES:
                        return


def _failure(view: JobView) -> str:
    if view.status == "discarded":
        return (
            f"job {view.job_id} was discarded: {view.error or 'it was overtaken'} (newer "
            "messages or a rejection made its draft unwanted; see list_drafts)"
        )
    return (
        f"job {view.job_id} failed after {view.attempts} attempt(s): {view.error}; call "
        "retry_job with this job_id to try again"
    )


def _problem(view: JobView) -> dict[str, object]:
    return {
        "title": "Draft job failed" if view.status == "failed" else "Draft job discarded",
        "detail": _failure(view),
        "job": view.model_dump(mode="json"),
    }
