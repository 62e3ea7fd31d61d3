"""The inbox's form posts: feedback, reject, mark sent, retry, and the writer profile.

Each goes through :class:`~draft_service.DraftService` (the same rules as the HTTP API), counts
against the user's write budget, carries the session's CSRF token (checked by the page router)
and answers with a redirect to the page that shows the result.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' Annotated dependencies,
# which name this function's local `web`, when the route is declared.
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from api_core.web import WebSession, WebUI
from draft_api.ui import queries
from draft_api.ui.common import (
    InboxError,
    form_text,
    page_url,
    render,
    require_write,
    runtime,
    user_of,
)
from draft_service.errors import ConflictError, NotFoundError
from draft_service.models import ProfileIn
from platform_core.logging import get_logger

__all__ = ["action_routes"]

_log = get_logger("draft_api.ui")
_MAX_FEEDBACK = 20_000


async def _user(request: Request) -> str:
    form = await request.form()
    value = form.get("user")
    return user_of(value if isinstance(value, str) else None)


async def _limit(request: Request, user: str) -> None:
    limiter = runtime(request).limiter
    if limiter is None:
        return
    wait = await limiter.hit(user)
    if wait is not None:
        raise InboxError(
            429,
            "Too many changes",
            f"More than {runtime(request).settings.rate_limit_per_minute} changes this minute "
            f"for {user!r}. Wait {wait} seconds and try again.",
        )


def _refused(exc: Exception, back: str | None) -> InboxError:
    if isinstance(exc, NotFoundError):
        return InboxError(404, "Not found", f"{exc}. It may belong to another user.", back)
    return InboxError(409, "Not possible now", str(exc), back)


def action_routes(web: WebUI) -> APIRouter:
    """The inbox's POST routes, behind sign-in and CSRF."""
    router = web.page_router()
    session_dep = Annotated[WebSession, Depends(web.session)]

    async def draft_thread(request: Request, user: str, draft_id: str) -> int:
        thread_id = await queries.draft_thread(runtime(request).engine, user, draft_id)
        if thread_id is None:
            raise InboxError(
                404,
                "Draft not found",
                f"User {user!r} has no draft {draft_id!r}. It may belong to another user; "
                "nothing was changed.",
                page_url(request, web, "/threads", user=user),
            )
        return thread_id

    def to_thread(request: Request, user: str, thread_id: int) -> Response:
        url = page_url(request, web, f"/threads/{thread_id}", user=user)
        return RedirectResponse(f"{url}#draft", 303)

    @router.post("/drafts/{draft_id}/feedback")
    async def feedback(request: Request, session: session_dep, draft_id: str) -> Response:
        require_write(session)
        user = await _user(request)
        thread_id = await draft_thread(request, user, draft_id)
        text = form_text(await request.form(), "feedback", "feedback", max_length=_MAX_FEEDBACK)
        await _limit(request, user)
        back = page_url(request, web, f"/threads/{thread_id}", user=user)
        try:
            job_id = await runtime(request).service.process_feedback(user, draft_id, text)
        except (NotFoundError, ConflictError) as exc:
            raise _refused(exc, back) from exc
        _log.info("inbox_feedback", user_id=user, draft_id=draft_id, job_id=job_id)
        return to_thread(request, user, thread_id)

    @router.post("/drafts/{draft_id}/reject")
    async def reject(request: Request, session: session_dep, draft_id: str) -> Response:
        require_write(session)
        user = await _user(request)
        thread_id = await draft_thread(request, user, draft_id)
        await _limit(request, user)
        try:
            await runtime(request).service.reject(user, draft_id)
        except NotFoundError as exc:
            raise _refused(exc, None) from exc
        _log.info("inbox_reject", user_id=user, draft_id=draft_id)
        return to_thread(request, user, thread_id)

    @router.post("/drafts/{draft_id}/sent")
    async def mark_sent(request: Request, session: session_dep, draft_id: str) -> Response:
        require_write(session)
        user = await _user(request)
        thread_id = await draft_thread(request, user, draft_id)
        await _limit(request, user)
        back = page_url(request, web, f"/threads/{thread_id}", user=user)
        try:
            await runtime(request).service.mark_sent(user, draft_id)
        except (NotFoundError, ConflictError) as exc:
            raise _refused(exc, back) from exc
        _log.info("inbox_mark_sent", user_id=user, draft_id=draft_id)
        return to_thread(request, user, thread_id)

    @router.post("/jobs/{job_id}/retry")
    async def retry(request: Request, session: session_dep, job_id: str) -> Response:
        require_write(session)
        user = await _user(request)
        thread_id = await queries.job_thread(runtime(request).engine, user, job_id)
        if thread_id is None:
            raise InboxError(
                404,
                "Job not found",
                f"User {user!r} has no job {job_id!r}. It may belong to another user; "
                "nothing was changed.",
                page_url(request, web, "/threads", user=user),
            )
        await _limit(request, user)
        back = page_url(request, web, f"/threads/{thread_id}", user=user)
        try:
            await runtime(request).service.retry_job(job_id, user)
        except (NotFoundError, ConflictError) as exc:
            raise _refused(exc, back) from exc
        _log.info("inbox_retry", user_id=user, job_id=job_id)
        return to_thread(request, user, thread_id)

    @router.post("/profile")
    async def save_profile(request: Request, session: session_dep) -> Response:
        require_write(session)
        user = await _user(request)
        form = await request.form()
        values = {
            name: (form.get(name) if isinstance(form.get(name), str) else "")
            for name in ("display_name", "role", "signature", "tone")
        }
        try:
            profile = ProfileIn(
                display_name=str(values["display_name"]).strip(),
                role=str(values["role"]).strip() or None,
                signature=str(values["signature"]).strip() or None,
                tone=str(values["tone"]).strip() or None,
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']).replace('_', ' ')}: {e['msg']}"
                for e in exc.errors()
            )
            context = {
                "title": f"Writer profile of {user}",
                "page": "profile",
                "user": user,
                "profile": await runtime(request).service.profile(user),
                "saved": False,
                "values": values,
                "error": f"The profile was not saved. {problems}.",
            }
            return render(request, web, session, "profile.html", context, status_code=400)
        await _limit(request, user)
        await runtime(request).service.put_profile(user, profile)
        _log.info("inbox_profile_saved", user_id=user)
        return RedirectResponse(page_url(request, web, "/profile", user=user, saved="1"), 303)

    return router
