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

    ``DRAFTS_API_KEY`` signs in with every action; ``DRAFTS_READ_ONLY_API_KEY`` (when set) as
    a ``reader``, whose pages show no actions and whose form posts are refused. A session
    names a fingerprint of its key (never the key), so it ends once that key is changed.
    """
    from api_core.web import WebIdentity, WebUI
    from draft_api.ui import READER, TEMPLATES, install_inbox

    keys: list[tuple[bytes, WebIdentity]] = []
    for secret, label, role in (
        (settings.api_key, "Service key", None),
        (settings.read_only_api_key, "Read-only key", READER),
    ):
        if secret is None:
            continue
        key = secret.get_secret_value().encode()
        print_ = hmac.new(b"draft-api web", key, hashlib.sha256).hexdigest()[:16]
        keys.append((key, WebIdentity(subject=f"key:{print_}", label=label, role=role)))

    async def verify(_: Request, key: str) -> WebIdentity | None:
        given = key.encode()
        # Every key is compared (constant time each), so timing does not tell which matched.
        matches = [identity for secret, identity in keys if hmac.compare_digest(given, secret)]
        return matches[0] if matches else None

    async def same_key(_: Request, identity: WebIdentity) -> bool:
        return any(identity == known for _, known in keys)

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
