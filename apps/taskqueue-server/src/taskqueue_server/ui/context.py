"""What every console page shares: the signed-in key's scope, the scoped stores, rendering
and refusals."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import HTMLResponse

from api_core.errors import SignInRequiredError
from taskqueue_server.db.console import ConsoleStore
from taskqueue_server.db.projects import ProjectStore
from taskqueue_server.db.tasks import TaskStore
from taskqueue_server.db.tenancy import Right, TenantScope
from taskqueue_server.db.webhooks import WebhookStore
from taskqueue_server.ui.feed import ConsoleFeed

if TYPE_CHECKING:
    from api_core.web import WebSession, WebUI
    from taskqueue_server.runtime import Runtime

__all__ = ["Console", "Visit"]


@dataclass(frozen=True)
class Visit:
    """One signed-in request: the session and the stores bound to its key's scope."""

    request: Request
    session: WebSession
    scope: TenantScope
    tasks: TaskStore
    projects: ProjectStore
    webhooks: WebhookStore
    console: ConsoleStore

    def may(self, right: Right) -> bool:
        """Whether the key's role has ``right``."""
        return self.scope.may(right)

    @property
    def can_write(self) -> bool:
        """The key may cancel, retry and delete tasks (admin, producer)."""
        return self.scope.may(Right.WRITE_TASKS)

    @property
    def can_manage(self) -> bool:
        """The key may see webhooks and redeliver (an admin key not restricted to projects)."""
        return self.scope.may(Right.MANAGE) and self.scope.projects is None


@dataclass
class Console:
    """The console's shared parts: the web layer, the runtime, its console reads and feed."""

    web: WebUI
    runtime: Runtime
    console: ConsoleStore
    feed: ConsoleFeed

    async def visit(self, request: Request) -> Visit:
        """The request's session and scoped stores, rebuilt from the key on every request
        (a key's projects or revocation take effect at once).

        Raises:
            SignInRequiredError: no valid session, or its key is gone or revoked.
        """
        session = await self.web.session(request)
        try:
            key_id = str(uuid.UUID(session.identity.subject))
        except ValueError:
            raise SignInRequiredError(request.url.path) from None
        info = await self.runtime.api_keys.find(key_id)
        if info is None or info.revoked_at is not None:
            raise SignInRequiredError(request.url.path)
        projects = None if info.projects is None else frozenset(info.projects)
        scope = TenantScope(info.tenant, info.role, projects, key_id)
        return Visit(
            request=request,
            session=session,
            scope=scope,
            tasks=self.runtime.tasks.scoped(scope),
            projects=self.runtime.projects.scoped(scope),
            webhooks=self.runtime.webhooks.scoped(scope),
            console=self.console.scoped(scope),
        )

    def render(
        self, visit: Visit, template: str, context: dict[str, Any], status_code: int = 200
    ) -> HTMLResponse:
        """Render a console page for ``visit`` (the template sees ``visit`` too)."""
        values = {"visit": visit, **context}
        return self.web.render(
            visit.request, template, values, session=visit.session, status_code=status_code
        )

    def refuse(self, visit: Visit, status_code: int, title: str, message: str) -> HTMLResponse:
        """An error page: nothing was changed."""
        return self.render(
            visit,
            "api_core_web/error.html",
            {"title": title, "message": message},
            status_code=status_code,
        )

    def need(self, visit: Visit, right: Right) -> HTMLResponse | None:
        """A 403 page when the key's role lacks ``right``; None when it has it."""
        if visit.may(right):
            return None
        return self.refuse(
            visit,
            403,
            "Not allowed",
            f"This API key's role is {visit.scope.role}, which may not do this. "
            "Nothing was changed.",
        )
