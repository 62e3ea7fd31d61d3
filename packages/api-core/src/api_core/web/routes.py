"""The sign-in, sign-out and landing routes :meth:`WebUI.install` adds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from platform_core.logging import get_logger

if TYPE_CHECKING:
    from api_core.web.ui import WebUI

__all__ = ["sign_in_router"]

_log = get_logger("api_core.web")
_MAX_KEY = 1024


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _duration(seconds: int) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} hours" if seconds != 3600 else "1 hour"
    return f"{max(1, seconds // 60)} minutes"


def sign_in_router(web: WebUI, *, home: bool = True) -> APIRouter:
    """``GET``/``POST {prefix}/sign-in``, ``POST {prefix}/sign-out`` and (``home``)
    ``GET {prefix}/``."""
    router = APIRouter(prefix=web.prefix, include_in_schema=False)

    def sign_in_page(
        request: Request, *, error: str | None = None, status_code: int = 200
    ) -> Response:
        cookie, token = web.pre_sign_in()
        response = web.render(
            request,
            "api_core_web/sign_in.html",
            {
                "error": error,
                "signin_token": token,
                "next": web.local_path(request.query_params.get("next")),
                "signed_out": request.query_params.get("signed_out") == "1",
                "session_hours": _duration(web.settings.session_max_age),
            },
            status_code=status_code,
        )
        flags = web.cookie_flags(request, 3600)
        response.set_cookie(web.pre_cookie_name, cookie, **flags)
        return response

    @router.get("/sign-in")
    async def sign_in_form(request: Request) -> Response:
        if await web.optional_session(request) is not None:
            return RedirectResponse(web.local_path(request.query_params.get("next")), 303)
        return sign_in_page(request)

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        address = _client(request)
        blocked = await web.failed_sign_ins.retry_after(address)
        if blocked is not None:
            _log.warning("web sign-in refused: too many failed attempts", client=address)
            response = sign_in_page(
                request,
                error="Too many failed sign-ins from this address. "
                f"Wait {blocked} seconds, then try again.",
                status_code=429,
            )
            response.headers["Retry-After"] = str(blocked)
            return response
        # Read the form by hand: a validation error would echo the key back in its body.
        form = await request.form()
        token, key = form.get("csrf_token"), form.get("api_key")
        if not web.pre_sign_in_ok(request, token if isinstance(token, str) else None):
            _log.warning("web sign-in refused: stale form token", client=_client(request))
            return sign_in_page(
                request,
                error="The sign-in form expired or did not come from this site. "
                "Paste the key again and sign in.",
                status_code=403,
            )
        key = key.strip() if isinstance(key, str) else ""
        if not key:
            return sign_in_page(request, error="Paste an API key to sign in.", status_code=400)
        identity = None if len(key) > _MAX_KEY else await web.verify_key(request, key)
        if identity is None:
            await web.failed_sign_ins.hit(address)
            _log.warning("web sign-in refused: unknown or revoked key", client=address)
            return sign_in_page(
                request,
                error="That API key is unknown or revoked. Check it and try again.",
                status_code=401,
            )
        cookie, _ = web.issue(identity)
        _log.info("web sign-in", subject=identity.subject, tenant=identity.tenant)
        nxt = form.get("next")
        response = RedirectResponse(web.local_path(nxt if isinstance(nxt, str) else None), 303)
        web.set_session_cookie(request, response, cookie)
        web.clear_cookie(request, response, web.pre_cookie_name)
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        session = await web.optional_session(request)
        if session is not None:
            await web.check_csrf(request)
            _log.info("web sign-out", subject=session.identity.subject)
        root = request.scope.get("root_path", "").rstrip("/")
        response = RedirectResponse(f"{root}{web.prefix}/sign-in?signed_out=1", 303)
        web.clear_cookie(request, response, web.cookie_name)
        return response

    if home:

        @router.get("/")
        async def landing(request: Request) -> Response:
            session = await web.session(request)
            expires = datetime.fromtimestamp(session.expires_at, UTC)
            return web.render(
                request,
                "api_core_web/home.html",
                {"identity": session.identity, "expires": expires.strftime("%Y-%m-%d %H:%M UTC")},
                session=session,
            )

    return router
