"""The static files shipped inside api-core and the URLs they are served at."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "STATIC_PATH", "asset_url", "mount_static", "vendored_versions"]

STATIC_DIR = Path(__file__).parent / "static"
"""Where the stylesheet and the vendored scripts live in the installed package."""
STATIC_PATH = "/static/api-core"
"""The URL path the static files are served under."""
_MOUNT_NAME = "api_core_static"


@cache
def vendored_versions() -> dict[str, str]:
    """The pinned npm package versions of the vendored assets, e.g. ``{"htmx.org": "2.0.11"}``."""
    manifest = json.loads((STATIC_DIR / "vendor" / "manifest.json").read_text())
    return {entry["npm"]: entry["version"] for entry in manifest["packages"]}


def asset_url(root_path: str, name: str) -> str:
    """The URL of the static file ``name`` (relative to the static dir), with a version query
    so a new release is never served from a stale browser cache.

    Args:
        root_path: The ASGI ``root_path`` the app is mounted under ("" usually).
        name: e.g. ``"web.css"`` or ``"vendor/htmx/htmx.min.js"``.
    """
    from api_core import __version__

    return f"{root_path}{STATIC_PATH}/{name}?v={__version__}"


def mount_static(app: FastAPI) -> None:
    """Serve :data:`STATIC_DIR` at :data:`STATIC_PATH` (once per app)."""
    if any(getattr(route, "name", None) == _MOUNT_NAME for route in app.router.routes):
        return
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name=_MOUNT_NAME)
