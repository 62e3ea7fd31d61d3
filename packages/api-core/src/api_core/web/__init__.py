"""The shared web layer: layout, stylesheet, sign-in by API key, sessions, CSRF, offline docs.

Pages are server-rendered with Jinja2 and enhanced with htmx (shipped in the package, like
Swagger UI and ReDoc); nothing loads from a CDN. Importing this package imports Jinja2, so
``api_core`` itself never imports it::

    from api_core.web import WebIdentity, WebUI

    async def verify(request, key):        # the app's own key check
        return WebIdentity(subject="k1", label="ops") if key == "s3cret-key" else None

    WebUI(settings, verify, app_name="Tasks").install(app)
"""

from api_core.errors import CsrfError, SignInRequiredError
from api_core.web.assets import STATIC_DIR, STATIC_PATH, asset_url, vendored_versions
from api_core.web.docs import install_docs
from api_core.web.identity import KeyVerifier, Revalidator, WebIdentity
from api_core.web.session import SessionCodec, WebSession, session_secret
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
