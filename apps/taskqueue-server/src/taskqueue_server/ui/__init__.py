"""The task dashboard at ``/ui/``: overview, tasks, task pages, workers and webhooks, live
over Server-Sent Events. Every page reads and writes through the stores bound to the signed-in
key's tenant scope."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from taskqueue_server.db.console import ConsoleStore
from taskqueue_server.db.engine import read_session_factory
from taskqueue_server.ui.context import Console
from taskqueue_server.ui.feed import ConsoleFeed, memory_feed, redis_feed
from taskqueue_server.ui.format import FILTERS

if TYPE_CHECKING:
    from api_core.web import WebUI
    from taskqueue_server.runtime import Runtime

__all__ = ["NAV", "TEMPLATES", "install_console"]

STATIC = Path(__file__).parent / "static"
TEMPLATES = Path(__file__).parent / "templates"
"""The console's templates (searched before api-core's)."""
NAV = [("Tasks", "/ui/tasks"), ("Workers", "/ui/workers"), ("Webhooks", "/ui/webhooks")]
"""The header links besides the overview."""


def install_console(app: FastAPI, runtime: Runtime, web: WebUI) -> Console:
    """Add the console's pages and its event stream to ``app``, and feed the stream from the
    runtime's event publisher."""
    from taskqueue_server.ui.pages import pages_routes
    from taskqueue_server.ui.stream import stream_routes
    from taskqueue_server.ui.tasks import tasks_routes

    feed: ConsoleFeed
    if runtime.redis is not None:
        feed = redis_feed(runtime.redis, runtime.settings.redis_key_prefix)
    else:
        feed = memory_feed()
    runtime.publisher.listeners.append(feed.publish)
    web.templates.filters.update(FILTERS)
    console = Console(web, runtime, ConsoleStore(read_session_factory(runtime.engine)), feed)
    app.mount(f"{web.prefix}/assets", StaticFiles(directory=STATIC), name="console-assets")
    for router in (pages_routes(console), tasks_routes(console), stream_routes(console)):
        app.include_router(router)
    return console
