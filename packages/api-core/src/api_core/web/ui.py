"""``WebUI``: the shared sign-in, session, CSRF and page rendering every service's pages use.

An app builds one ``WebUI`` with its own key check and calls :meth:`WebUI.install`; its pages
then hang off :meth:`WebUI.page_router` routers (CSRF is checked on every unsafe method there)
and take :meth:`WebUI.session` as a dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api_core.errors import CsrfError, SignInRequiredError
from api_core.ratelimit import InProcessRateLimiter, RateLimiter
from api_core.settings import ApiSettings
from api_core.web.assets import asset_url, mount_static
from api_core.web.identity import KeyVerifier, Revalidator, WebIdentity
from api_core.web.session import SessionCodec, WebSession, session_secret
from platform_core.logging import get_logger

__all__ = ["SIGN_IN_FAILURES_PER_MINUTE", "NavLink", "WebUI"]

SIGN_IN_FAILURES_PER_MINUTE = 10
"""Failed sign-ins a client address may make per minute when the app gives no limiter."""

_log = get_logger(__name__)
_TEMPLATES = Path(__file__).parent / "templates"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NavLink = tuple[str, str]
"""A navigation entry: (label, path below the app root)."""


def _cookie_stem(service_name: str) -> str:
    stem = "".join(c if c.isalnum() else "_" for c in service_name.lower()).strip("_")
    return stem or "api"


class WebUI:
    """Server-rendered pages for one app: layout, sign-in by API key, session and CSRF.

    Args:
        settings: The app's settings (session secret, lifetime, cookie policy, names).
        verify_key: ``await verify_key(request, key)`` returns a
            :class:`~api_core.web.identity.WebIdentity`, or None for an unknown key.
        app_name: Shown in the header and titles; the settings' ``service_name`` if omitted.
        revalidate: Optional check run on each page request; False signs the session out.
        nav: Links shown in the header for a signed-in user.
        template_dirs: The app's own template folders, searched before api-core's.
        prefix: Where the pages live.
        failed_sign_ins: Counts failed sign-ins per client address; once it refuses, the
            sign-in form answers 429 with ``Retry-After`` until the window ends. Pass the
            app's own failed-authentication limiter so the API and the form share one budget;
            by default an in-process limiter of :data:`SIGN_IN_FAILURES_PER_MINUTE`.

    Raises:
        ConfigurationError: no session secret in staging or production.
    """

    def __init__(
        self,
        settings: ApiSettings,
        verify_key: KeyVerifier,
        *,
        app_name: str | None = None,
        revalidate: Revalidator | None = None,
        nav: Sequence[NavLink] = (),
        template_dirs: Iterable[str | Path] = (),
        prefix: str = "/ui",
        failed_sign_ins: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.app_name = app_name or settings.service_name
        self.prefix = prefix.rstrip("/")
        self.nav: list[NavLink] = [("Home", f"{self.prefix}/"), *nav]
        self._verify_key = verify_key
        self._revalidate = revalidate
        self.failed_sign_ins: RateLimiter = failed_sign_ins or InProcessRateLimiter(
            SIGN_IN_FAILURES_PER_MINUTE
        )
        self._codec = SessionCodec(session_secret(settings), settings.session_max_age)
        stem = _cookie_stem(settings.service_name)
        self.cookie_name = f"{stem}_session"
        self._pre_cookie = f"{stem}_signin"
        loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(d)) for d in template_dirs]
        loaders.append(jinja2.FileSystemLoader(str(_TEMPLATES)))
        self.templates = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(default=True),
            undefined=jinja2.StrictUndefined,
        )

    # --- rendering -----------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        session: WebSession | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        """Render ``template`` (which usually extends ``api_core_web/base.html``).

        The template sees ``app_name``, ``nav``, ``session``, ``csrf_token``, ``prefix``,
        ``request``, ``static(name)`` and ``url(path)`` besides ``context``.
        """
        root = request.scope.get("root_path", "").rstrip("/")
        values: dict[str, Any] = {
            "app_name": self.app_name,
            "nav": self.nav,
            "session": session,
            "csrf_token": session.csrf_token if session else "",
            "prefix": root + self.prefix,
            "request": request,
            "static": lambda name: asset_url(root, name),
            "url": lambda path: root + path,
            "current_path": request.url.path,
            "version": self.settings.service_version,
            **(context or {}),
        }
        html = self.templates.get_template(template).render(values)
        return HTMLResponse(html, status_code=status_code, headers=_NO_STORE)

    # --- sessions and CSRF ---------------------------------------------------------------

    async def optional_session(self, request: Request) -> WebSession | None:
        """The request's valid session, or None (absent, forged, expired or revalidated away)."""
        session = self._codec.read(request.cookies.get(self.cookie_name))
        if session is None:
            return None
        if self._revalidate is not None and not await self._revalidate(request, session.identity):
            _log.info("web session ended: key no longer valid", subject=session.identity.subject)
            return None
        return session

    async def session(self, request: Request) -> WebSession:
        """Dependency for pages: the signed-in session.

        Raises:
            SignInRequiredError: no valid session (answered with a redirect to sign-in).
        """
        session = await self.optional_session(request)
        if session is None:
            raise SignInRequiredError(request.url.path)
        return session

    async def check_csrf(self, request: Request) -> None:
        """Dependency refusing an unsafe request without its session's CSRF token.

        The token comes from the ``X-CSRF-Token`` header (htmx sends it) or the
        ``csrf_token`` form field.

        Raises:
            CsrfError: the token is missing or does not belong to the session.
            SignInRequiredError: no valid session.
        """
        if request.method not in _UNSAFE:
            return
        session = await self.session(request)
        token = request.headers.get("x-csrf-token")
        if token is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            field = (await request.form()).get("csrf_token")
            token = field if isinstance(field, str) else None
        if not self._codec.csrf_ok(session.id, token):
            raise CsrfError("the request's CSRF token is missing or not this session's")

    def page_router(self, **kwargs: Any) -> APIRouter:
        """An ``APIRouter`` under the pages' prefix that checks CSRF on every unsafe method
        and stays out of the OpenAPI schema."""
        kwargs.setdefault("include_in_schema", False)
        dependencies = [*kwargs.pop("dependencies", ()), Depends(self.check_csrf)]
        return APIRouter(prefix=self.prefix, dependencies=dependencies, **kwargs)

    def set_session_cookie(self, request: Request, response: Response, cookie: str) -> None:
        """Attach the session cookie with its security flags."""
        response.set_cookie(
            self.cookie_name, cookie, **self.cookie_flags(request, self._codec.max_age)
        )

    def cookie_flags(self, request: Request, max_age: int) -> dict[str, Any]:
        """``set_cookie`` arguments: HttpOnly, SameSite=Strict, scoped to the pages' path,
        Secure on HTTPS (or always with ``session_https_only``)."""
        secure = self.settings.session_https_only or request.url.scheme == "https"
        root = request.scope.get("root_path", "").rstrip("/")
        return {
            "max_age": max_age,
            "path": f"{root}{self.prefix}/",
            "secure": secure,
            "httponly": True,
            "samesite": "strict",
        }

    def clear_cookie(self, request: Request, response: Response, name: str) -> None:
        """Tell the browser to drop cookie ``name`` (same path and flags it was set with)."""
        flags = self.cookie_flags(request, 0)
        del flags["max_age"]
        response.delete_cookie(name, **flags)

    # --- installing ----------------------------------------------------------------------

    def install(self, app: FastAPI, *, home: bool = True) -> None:
        """Add sign-in, sign-out, the static files, the error pages and (``home``) a landing
        page at ``{prefix}/`` to ``app``."""
        from api_core.web.routes import sign_in_router

        mount_static(app)
        app.include_router(sign_in_router(self, home=home))
        app.add_exception_handler(SignInRequiredError, self._to_sign_in)
        app.add_exception_handler(CsrfError, self._csrf_refused)

    async def _to_sign_in(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequiredError)
        root = request.scope.get("root_path", "").rstrip("/")
        target = f"{root}{self.prefix}/sign-in?next={quote(exc.next_path, safe='/')}"
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        response = RedirectResponse(target, status_code=303)
        if self.cookie_name in request.cookies:
            self.clear_cookie(request, response, self.cookie_name)
        return response

    async def _csrf_refused(self, request: Request, exc: Exception) -> Response:
        _log.warning("web request refused: CSRF token missing or wrong", path=request.url.path)
        return self.render(
            request,
            "api_core_web/error.html",
            {
                "title": "Request refused",
                "message": "This form was missing its security (CSRF) token, or the token "
                "belongs to another session. Nothing was changed. Go back, reload the page "
                "and try again.",
            },
            session=await self.optional_session(request),
            status_code=403,
        )

    def local_path(self, candidate: str | None) -> str:
        """``candidate`` when it is a path under the pages' prefix, else the landing page
        (so ``?next=`` cannot send anyone to another site)."""
        if (
            candidate
            and candidate.startswith(f"{self.prefix}/")
            and "//" not in candidate
            and ".." not in candidate.split("/")
            and "\\" not in candidate
            and not any(ord(c) < 33 for c in candidate)
        ):
            return candidate
        return f"{self.prefix}/"

    def issue(self, identity: WebIdentity) -> tuple[str, WebSession]:
        """A new signed session for ``identity`` (the cookie value and the session)."""
        return self._codec.issue(identity)

    def pre_sign_in(self) -> tuple[str, str]:
        """A pre-sign-in cookie and the CSRF token its form must carry."""
        cookie, nonce = self._codec.issue_pre()
        return cookie, self._codec.csrf_token(f"pre:{nonce}")

    def pre_sign_in_ok(self, request: Request, token: str | None) -> bool:
        """Whether the sign-in form's token matches the browser's pre-sign-in cookie."""
        nonce = self._codec.read_pre(request.cookies.get(self._pre_cookie))
        return nonce is not None and self._codec.csrf_ok(f"pre:{nonce}", token)

    async def verify_key(self, request: Request, key: str) -> WebIdentity | None:
        """Run the app's key check."""
        return await self._verify_key(request, key)

    @property
    def pre_cookie_name(self) -> str:
        """Name of the cookie that binds the sign-in form's CSRF token."""
        return self._pre_cookie


_NO_STORE = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Everything a page uses is served by the app itself; no inline script anywhere.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
}
