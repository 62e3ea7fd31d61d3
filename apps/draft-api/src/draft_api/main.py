"""Entry point of the deployable: `draft-api`, or uvicorn `draft_api.main:create_app --factory`."""

from __future__ import annotations

import sys

from fastapi import FastAPI

from draft_api.settings import DraftApiSettings
from draft_api.web import install_web
from draft_service import DraftSettings, create_draft_app
from platform_core.errors import PlatformError
from platform_core.logging import configure_logging, get_logger

__all__ = ["create_app", "main"]

_log = get_logger("draft_api")


def create_app() -> FastAPI:
    """The draft service app configured from the environment (``DRAFTS_*``), with the web
    sign-in at ``/ui/``.

    Raises:
        ConfigurationError: a setting is invalid, or no API key is set and auth not disabled.
    """
    settings = DraftSettings.load()
    configure_logging(settings.log_level, fmt=settings.log_format)
    app = create_draft_app(settings)
    app.state.web = install_web(app, settings)
    return app


def main() -> None:
    """Serve the API; with ``DRAFTS_REDIS_URL`` run ``draft-service worker`` processes too."""
    import uvicorn

    try:
        server = DraftApiSettings.load()
        app = create_app()
    except PlatformError as exc:
        print(f"error: {exc}", file=sys.stderr)  # CLI output: logging is not set up yet
        sys.exit(1)
    _log.info("draft_api_starting", host=server.host, port=server.port)
    uvicorn.run(
        app,
        host=server.host,
        port=server.port,
        proxy_headers=server.proxy_headers,
        timeout_graceful_shutdown=int(server.graceful_timeout),
        log_config=None,
    )
