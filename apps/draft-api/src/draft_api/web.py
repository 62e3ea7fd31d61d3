"""The draft API's web pages: api-core's sign-in, checked against ``DRAFTS_API_KEY``, and the
draft review inbox (:mod:`draft_api.ui`) as the start page."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request

if TYPE_CHECKING:
    from api_core.web import WebIdentity, WebUI
    from draft_service import DraftSettings

__all__ = ["install_web"]


def install_web(app: FastAPI, settings: DraftSettings) -> WebUI:
    """Mount ``/ui/sign-in``, ``/ui/sign-out`` and the inbox at ``/ui/`` on ``app``.

    The service has one key (``DRAFTS_API_KEY``); a session names a fingerprint of it (never
    the key), so sessions end once the key is changed.
    """
    from api_core.web import WebIdentity, WebUI
    from draft_api.ui import TEMPLATES, install_inbox

    expected = settings.api_key.get_secret_value().encode() if settings.api_key else b""
    fingerprint = "key:" + hmac.new(b"draft-api web", expected, hashlib.sha256).hexdigest()[:16]

    async def verify(_: Request, key: str) -> WebIdentity | None:
        if not expected or not hmac.compare_digest(key.encode(), expected):
            return None
        return WebIdentity(subject=fingerprint, label="Service key")

    async def same_key(_: Request, identity: WebIdentity) -> bool:
        return bool(expected) and identity.subject == fingerprint

    web = WebUI(
        settings,
        verify,
        app_name="Draft service",
        revalidate=same_key,
        template_dirs=[TEMPLATES],
    )
    web.install(app, home=False)
    install_inbox(app, web)
    return web
