"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served from the assets inside api-core.

FastAPI's own pages load their scripts, styles and favicon from a CDN, so they are blank
without internet. These pages reference only files under
:data:`~api_core.web.assets.STATIC_PATH`; the page scripts read their settings from ``data-``
attributes, so no inline script is needed either.
"""

from __future__ import annotations

import json
from html import escape

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse

from api_core.web.assets import asset_url, mount_static

__all__ = ["DOCS_CSP", "install_docs"]

DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'self'; base-uri 'none'"
)
"""The docs pages' Content-Security-Policy: the browser itself keeps them on this origin
(ReDoc's "API docs by Redocly" badge, for one, would load its logo from a CDN)."""
_HEADERS = {"Content-Security-Policy": DOCS_CSP, "X-Content-Type-Options": "nosniff"}

_SWAGGER = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="icon" href="{favicon}" type="image/svg+xml">
<link rel="stylesheet" href="{css}">
</head>
<body>
<main id="swagger-ui" data-openapi-url="{openapi}" data-oauth2-redirect-url="{oauth2}"
 data-config="{config}"></main>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""

_REDOC = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" href="{favicon}" type="image/svg+xml">
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<redoc spec-url="{openapi}"></redoc>
<script src="{bundle}"></script>
</body>
</html>
"""


def install_docs(
    app: FastAPI,
    *,
    docs_url: str | None = "/docs",
    redoc_url: str | None = "/redoc",
    oauth2_redirect_url: str | None = "/docs/oauth2-redirect",
) -> None:
    """Add self-hosted Swagger UI and ReDoc pages to ``app`` (and mount the static files).

    Args:
        app: An app built with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages off).
        docs_url: Path of the Swagger UI page; None for none.
        redoc_url: Path of the ReDoc page; None for none.
        oauth2_redirect_url: Path of Swagger UI's OAuth2 redirect page; None for none.
    """
    if app.openapi_url is None or (docs_url is None and redoc_url is None):
        return
    mount_static(app)
    openapi_path = app.openapi_url

    def common(request: Request) -> dict[str, str]:
        root = request.scope.get("root_path", "").rstrip("/")
        return {
            "title": escape(app.title),
            "openapi": escape(root + openapi_path),
            "favicon": escape(asset_url(root, "favicon.svg")),
        }

    if docs_url is not None:
        config = {
            "deepLinking": True,
            "showExtensions": True,
            "showCommonExtensions": True,
            "validatorUrl": None,  # the default asks swagger.io to validate the schema
            **(app.swagger_ui_parameters or {}),
        }

        async def swagger_ui(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "").rstrip("/")
            html = _SWAGGER.format(
                **common(request),
                oauth2=escape(root + oauth2_redirect_url if oauth2_redirect_url else ""),
                config=escape(json.dumps(config)),
                css=escape(asset_url(root, "vendor/swagger-ui/swagger-ui.css")),
                bundle=escape(asset_url(root, "vendor/swagger-ui/swagger-ui-bundle.js")),
                init=escape(asset_url(root, "swagger-init.js")),
            )
            return HTMLResponse(html, headers=_HEADERS)

        app.add_route(docs_url, swagger_ui, include_in_schema=False)
        if oauth2_redirect_url is not None:

            async def oauth2_redirect(_: Request) -> HTMLResponse:
                return get_swagger_ui_oauth2_redirect_html()

            app.add_route(oauth2_redirect_url, oauth2_redirect, include_in_schema=False)

    if redoc_url is not None:

        async def redoc(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "").rstrip("/")
            bundle = escape(asset_url(root, "vendor/redoc/redoc.standalone.js"))
            return HTMLResponse(_REDOC.format(**common(request), bundle=bundle), headers=_HEADERS)

        app.add_route(redoc_url, redoc, include_in_schema=False)
