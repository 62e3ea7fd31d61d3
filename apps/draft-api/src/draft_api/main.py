"""Entry point of the deployable: `draft-api`, or uvicorn `draft_api.main:create_app --factory`."""

from __future__ import annotations

import argparse
import sys
import textwrap
from importlib.metadata import version
from typing import TYPE_CHECKING

from draft_api.settings import DraftApiSettings
from platform_core.errors import PlatformError
from platform_core.logging import configure_logging, get_logger

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app", "main"]

_log = get_logger("draft_api")


def create_app() -> FastAPI:
    """The draft service app configured from the environment (``DRAFTS_*``), with the web
    sign-in at ``/ui/`` and the MCP server at ``/mcp``.

    Raises:
        ConfigurationError: a setting is invalid, or no API key is set and auth not disabled.
    """
    # The app (FastAPI, SQLAlchemy, the service) loads here, so `draft-api --help` stays quick.
    from draft_api.web import install_web
    from draft_service import DraftSettings, create_draft_app

    settings = DraftSettings.load()
    configure_logging(settings.log_level, fmt=settings.log_format)
    app = create_draft_app(settings)
    app.state.web = install_web(app, settings)
    # Imported here: the mcp SDK is heavy, and `draft-api --help` should not wait for it.
    from draft_api.mcp import mount_mcp

    mount_mcp(app, settings)
    return app


def _parser() -> argparse.ArgumentParser:
    variables = "\n".join(
        f"  DRAFT_API_{name.upper():<18} {field.description} (default {field.default})"
        for name, field in DraftApiSettings.model_fields.items()
    )
    return argparse.ArgumentParser(
        prog="draft-api",
        description=textwrap.fill(
            "Serve the draft service's HTTP API. Every setting is an environment variable: "
            "the service's DRAFTS_* (OPENROUTER_* accepted as aliases of the LLM ones; see "
            "draft-service's README) and this process's own:"
        )
        + "\n\n"
        + variables,
        epilog="With DRAFTS_REDIS_URL set the API only enqueues; run `draft-service worker` "
        "processes beside it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the API; with ``DRAFTS_REDIS_URL`` run ``draft-service worker`` processes too.

    ``--help`` and ``--version`` answer without reading any setting.

    Args:
        argv: The command-line arguments (``sys.argv[1:]`` when omitted).
    """
    parser = _parser()
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('draft-api')}")
    parser.parse_args(argv)

    import asyncio

    import uvicorn

    from draft_service import DraftSettings
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
        # uvicorn's own loggers propagate to the platform handler; the access line is
        # api-core's middleware's (one per request, with its request and trace ids).
        log_config=None,
        access_log=False,
        use_colors=False,
    )
