"""Entry point of the deployable: `draft-api`, or uvicorn `draft_api.main:create_app --factory`."""

from __future__ import annotations

import sys

from fastapi import FastAPI

from draft_api.settings import DraftApiSettings
from draft_service import DraftSettings, create_draft_app
from platform_core.errors import PlatformError
from platform_core.logging import configure_logging, get_logger

__all__ = ["create_app", "main"]

_log = get_logger("draft_api")


def create_app() -> FastAPI:
    """The draft service app configured from the environment (``DRAFTS_*``).

    Raises:
        ConfigurationError: a setting is invalid, or no API key is set and auth not disabled.
    """
    settings = DraftSettings.load()
    configure_logging(settings.log_level, fmt=settings.log_format)
    return create_draft_app(settings)


def main() -> None:
    """Serve the API; with ``DRAFTS_REDIS_URL`` run ``draft-service worker`` processes too."""
    import asyncio

    import uvicorn

    from draft_service.runtime import preflight

    try:
        server = DraftApiSettings.load()
        app = create_app()
        # Fail here, in one line, rather than inside uvicorn's lifespan (exit 3, traceback).
        asyncio.run(preflight(DraftSettings.load()))
    except PlatformError as exc:
        message = str(exc).replace("\n", " ")
        print(f"error: {message}", file=sys.stderr)  # CLI output: logging is not set up yet
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
