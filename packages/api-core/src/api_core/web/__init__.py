"""The shared web layer: layout, stylesheet, sign-in by API key, sessions, CSRF, offline docs.

Pages are server-rendered with Jinja2 and enhanced with htmx (shipped in the package, like
Swagger UI and ReDoc); nothing loads from a CDN. Jinja2 is imported on first use of
:class:`WebUI` (``create_app`` needs only the docs pages, ``import api_core`` none of this)::

    from api_core.web import WebIdentity, WebUI

    async def verify(request, key):        # the app's own key check
        return WebIdentity(subject="k1", label="ops") if key == "s3cret-key" else None

    WebUI(settings, verify, app_name="Tasks").install(app)
"""

from typing import TYPE_CHECKING, Any

from api_core.errors import CsrfError, SignInRequiredError
from api_core.web.assets import STATIC_DIR, STATIC_PATH, asset_url, vendored_versions
from api_core.web.docs import install_docs
from api_core.web.identity import KeyVerifier, Revalidator, WebIdentity
from api_core.web.session import SessionCodec, WebSession, session_secret

if TYPE_CHECKING:
    from api_core.web.ui import NavLink, WebUI

__all__ = [
    "STATIC_DIR",
    "STATIC_PATH",
    "CsrfError",
    "KeyVerifier",
    "NavLink",
    "Revalidator",
    "SessionCodec",
    "SignInRequiredError",
    "WebIdentity",
    "WebSession",
    "WebUI",
    "asset_url",
    "install_docs",
    "session_secret",
    "vendored_versions",
]


def __getattr__(name: str) -> Any:
    # WebUI brings Jinja2; load it when a service asks for it, not with the docs pages.
    if name in ("NavLink", "WebUI"):
        from api_core.web import ui

        return getattr(ui, name)
    raise AttributeError(f"module 'api_core.web' has no attribute {name!r}")
