"""The Task Queue's web pages: api-core's sign-in checked against the server's API keys, and
the task dashboard (:mod:`taskqueue_server.ui`) at ``/ui/``."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request

if TYPE_CHECKING:
    from api_core.web import WebIdentity, WebUI
    from taskqueue_server.runtime import Runtime
    from taskqueue_server.settings import ServerSettings

__all__ = ["install_web"]


def install_web(app: FastAPI, runtime: Runtime, settings: ServerSettings) -> WebUI:
    """Mount ``/ui/sign-in``, ``/ui/sign-out`` and the dashboard on ``app``.

    A key signs in when :meth:`ApiKeyStore.authenticate` accepts it, and the pages show its
    tenant and role; its session ends on the next page once the key is revoked. Failed
    sign-ins count against the same per-address limit as failed API authentications
    (``TASKQUEUE_AUTH_FAILURES_PER_MINUTE``).
    """
    from api_core.web import WebIdentity, WebUI
    from taskqueue_server.ui import NAV, TEMPLATES, install_console

    async def verify(_: Request, key: str) -> WebIdentity | None:
        scope = await runtime.api_keys.authenticate(key)
        if scope is None:
            return None
        info = await runtime.api_keys.find(scope.key_id)
        label = info.name[:200] if info is not None and info.name else f"key {scope.key_id}"
        return WebIdentity(
            subject=scope.key_id, label=label, tenant=scope.tenant, role=str(scope.role)
        )

    async def still_active(_: Request, identity: WebIdentity) -> bool:
        try:
            uuid.UUID(identity.subject)
        except ValueError:
            return False
        info = await runtime.api_keys.find(identity.subject)
        return info is not None and info.revoked_at is None

    web = WebUI(
        settings,
        verify,
        app_name="Task Queue",
        revalidate=still_active,
        nav=NAV,
        template_dirs=[TEMPLATES],
        failed_sign_ins=runtime.auth_failures,
    )
    web.nav[0] = ("Overview", f"{web.prefix}/")
    web.install(app, home=False)
    install_console(app, runtime, web)
    return web
