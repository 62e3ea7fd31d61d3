"""A bare api-core app whose keys carry a tenant and a role (the header's badges), served by
the browser tests: ``uvicorn --app-dir tests/browser --factory demo_app:create``."""

from __future__ import annotations

import hmac
import os

from fastapi import FastAPI, Request

from api_core import ApiSettings, create_app
from api_core.web import WebIdentity, WebUI


def create() -> FastAPI:
    """The demo app; its one key is ``DEMO_KEY``."""
    expected = os.environ["DEMO_KEY"].encode()

    async def verify(_: Request, key: str) -> WebIdentity | None:
        if not hmac.compare_digest(key.encode(), expected):
            return None
        return WebIdentity(
            subject="key-7",
            label="Release automation (eu-west)",
            tenant="acme-industries",
            role="operator",
        )

    settings = ApiSettings.load(service_name="demo")
    app = create_app(settings, title="Demo API")
    WebUI(settings, verify, app_name="Demo console").install(app)
    return app
