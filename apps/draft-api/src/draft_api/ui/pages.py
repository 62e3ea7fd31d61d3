"""The inbox's pages: the start page, a user's threads, a thread, and the writer profile."""

# No `from __future__ import annotations`: FastAPI reads the routes' Annotated dependencies,
# which name this function's local `web`, when the route is declared.
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from api_core.web import WebSession, WebUI
from draft_api.ui import queries
from draft_api.ui.common import InboxError, page_url, render, render_fragment, runtime, user_of
from draft_api.ui.diff import Piece, word_diff
from draft_service.db.schema import Revision
from draft_service.models import Provenance

__all__ = ["LineageEntry", "page_routes", "thread_context"]

UserQuery = Annotated[str | None, Query(alias="user", max_length=1000)]
"""The ``user`` query parameter: whose inbox a page shows (checked by ``user_of``)."""


@dataclass(frozen=True, slots=True)
class LineageEntry:
    """One revision in the lineage, with its word diff from the revision before it."""

    revision: Revision
    provenance: Provenance
    diff: list[Piece] | None


def _lineage(revisions: list[Revision]) -> list[LineageEntry]:
    entries: list[LineageEntry] = []
    previous: Revision | None = None
    for revision in revisions:
        diff = None if previous is None else word_diff(previous.content, revision.content)
        provenance = Provenance.model_validate(revision.provenance or {})
        entries.append(LineageEntry(revision, provenance, diff))
        previous = revision
    return entries


async def thread_context(request: Request, user: str, thread_id: int) -> dict[str, Any]:
    """What the thread page and its draft panel show.

    Raises:
        InboxError: the user has no such thread (404).
    """
    page = await queries.thread_page(runtime(request).engine, user, thread_id)
    if page is None:
        raise InboxError(
            404,
            "Thread not found",
            f"User {user!r} has no thread {thread_id}. It may belong to another user.",
        )
    lineage = _lineage(page.revisions)
    ready = [e for e in lineage if e.revision.status == "ready"]
    current = ready[-1] if ready else None
    profile = await runtime(request).service.profile(user)
    return {
        "user": user,
        "thread": page,
        "lineage": lineage,
        "current": current,
        "used": set(current.provenance.message_ids) if current else set(),
        "open": page.draft is not None and page.draft.status == "open",
        "profile": profile,
    }


def page_routes(web: WebUI) -> APIRouter:
    """The inbox's GET pages, behind sign-in."""
    router = web.page_router()
    session_dep = Annotated[WebSession, Depends(web.session)]

    @router.get("/")
    async def start(request: Request, session: session_dep, user: UserQuery = None) -> Response:
        if user is not None:
            return RedirectResponse(page_url(request, web, "/threads", user=user_of(user)), 303)
        users = await queries.recent_users(runtime(request).engine)
        return render(request, web, session, "start.html", {"title": "Inbox", "users": users})

    @router.get("/threads")
    async def thread_list(
        request: Request, session: session_dep, user: UserQuery = None
    ) -> Response:
        who = user_of(user)
        rows = await queries.threads(runtime(request).engine, who)
        context = {"title": f"Threads of {who}", "user": who, "rows": rows, "page": "threads"}
        return render(request, web, session, "threads.html", context)

    @router.get("/threads/{thread_id}")
    async def thread(
        request: Request, session: session_dep, thread_id: int, user: UserQuery = None
    ) -> Response:
        context = await thread_context(request, user_of(user), thread_id)
        context["title"] = context["thread"].name
        context["page"] = "thread"
        return render(request, web, session, "thread.html", context)

    @router.get("/threads/{thread_id}/panel")
    async def panel(
        request: Request, session: session_dep, thread_id: int, user: UserQuery = None
    ) -> Response:
        context = await thread_context(request, user_of(user), thread_id)
        return Response(
            render_fragment(request, web, session, "_panel.html", context),
            media_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    @router.get("/profile")
    async def profile(request: Request, session: session_dep, user: UserQuery = None) -> Response:
        who = user_of(user)
        found = await runtime(request).service.profile(who)
        context = {
            "title": f"Writer profile of {who}",
            "page": "profile",
            "user": who,
            "profile": found,
            "saved": request.query_params.get("saved") == "1",
            "values": None,
            "error": None,
        }
        return render(request, web, session, "profile.html", context)

    return router
