"""The draft review inbox at ``/ui/``: a user's threads, each thread's draft with its revision
lineage and provenance, and the actions on it, live over Server-Sent Events.

Pages are server-rendered by api-core's :class:`~api_core.web.WebUI` (sign-in, session, CSRF,
layout) and enhanced with htmx; every read-only page works without JavaScript.
"""

from __future__ import annotations

from datetime import datetime
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from api_core.web import WebUI

__all__ = ["READER", "STATIC_DIR", "STATIC_PATH", "TEMPLATES", "install_inbox"]

READER = "reader"
"""The role of a session signed in with ``DRAFTS_READ_ONLY_API_KEY``: it sees no actions."""

TEMPLATES = Path(__file__).parent / "templates"
"""The inbox's template folder (give it to :class:`~api_core.web.WebUI` as a template dir)."""
STATIC_DIR = Path(__file__).parent / "static"
"""The inbox's stylesheet and script in the installed package."""
STATIC_PATH = "/static/draft-inbox"
"""Where the inbox's stylesheet and script are served."""


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def install_inbox(app: FastAPI, web: WebUI) -> None:
    """Add the inbox's pages, form posts and event streams to ``app`` under ``web.prefix``.

    ``web`` must have been built with :data:`TEMPLATES` among its template dirs and installed
    with ``home=False`` (the inbox is the start page).
    """
    from draft_api.ui.actions import action_routes
    from draft_api.ui.common import InboxError
    from draft_api.ui.live import live_routes
    from draft_api.ui.pages import page_routes

    release = version("draft-api")
    web.templates.filters["when"] = _when
    web.templates.filters["iso"] = _iso
    web.templates.globals["inbox_asset"] = lambda request, name: (
        f"{request.scope.get('root_path', '').rstrip('/')}{STATIC_PATH}/{name}?v={release}"
    )
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="draft_inbox_static")
    app.include_router(page_routes(web))
    app.include_router(action_routes(web))
    app.include_router(live_routes(web))

    async def inbox_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InboxError)
        root = request.scope.get("root_path", "").rstrip("/")
        return web.render(
            request,
            "draft_inbox/error.html",
            {
                "title": exc.title,
                "message": exc.message,
                "back": exc.back or f"{root}{web.prefix}/",
            },
            session=await web.optional_session(request),
            status_code=exc.status,
        )

    app.add_exception_handler(InboxError, inbox_error)
