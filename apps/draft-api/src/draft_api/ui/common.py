"""What every inbox route shares: the runtime, the user a page acts for, links and error pages.

The service has one key, and it acts for every user: the inbox names the user it shows in the
``user`` query parameter (or form field), and every read and change is filtered by that user in
the service, so a draft or job of another user is "not found".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse

from api_core.storable import check_storable_str
from api_core.web import WebSession, WebUI
from draft_service.runtime import Runtime

__all__ = [
    "InboxError",
    "can_write",
    "form_text",
    "page_url",
    "render",
    "render_fragment",
    "require_write",
    "runtime",
    "user_of",
]

MAX_USER = 200
"""The longest user id the service stores."""


class InboxError(Exception):
    """A request the inbox answers with an error page.

    Args:
        status: The HTTP status.
        title: The page's heading.
        message: What was wrong and what to do.
        back: A path to offer as the way back (``None``: the inbox's start page).
    """

    def __init__(self, status: int, title: str, message: str, back: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.back = back


def runtime(request: Request) -> Runtime:
    """The app's draft service runtime."""
    found: Runtime = request.app.state.runtime
    return found


def _check_text(name: str, value: str, *, max_length: int, required: bool) -> str:
    if required and not value.strip():
        raise InboxError(400, "Missing value", f"The {name} is empty: fill it in and try again.")
    if len(value) > max_length:
        raise InboxError(
            400,
            "Value too long",
            f"The {name} is {len(value)} characters long; at most {max_length} are accepted.",
        )
    try:
        check_storable_str(value)
    except ValueError as exc:
        raise InboxError(400, "Value not accepted", f"The {name}: {exc}.") from exc
    return value


def user_of(value: str | None) -> str:
    """The user id a page acts for, checked.

    Raises:
        InboxError: missing, too long, or not storable text.
    """
    if value is None:
        raise InboxError(
            400, "No user chosen", "Choose whose inbox to open on the inbox's start page."
        )
    return _check_text("user id", value, max_length=MAX_USER, required=True)


def form_text(
    form: FormData, field: str, name: str, *, max_length: int, required: bool = True
) -> str:
    """A text field of a submitted form, checked (missing counts as empty).

    Raises:
        InboxError: empty when required, too long, or not storable.
    """
    value = form.get(field)
    return _check_text(
        name, value if isinstance(value, str) else "", max_length=max_length, required=required
    )


def page_url(request: Request, web: WebUI, path: str, **query: str) -> str:
    """The URL of the inbox page ``path`` (below the pages' prefix) with a query string."""
    root = request.scope.get("root_path", "").rstrip("/")
    tail = f"?{urlencode(query)}" if query else ""
    return f"{root}{web.prefix}{path}{tail}"


def render(
    request: Request,
    web: WebUI,
    session: WebSession,
    template: str,
    context: Mapping[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    """A full page of the inbox (its templates live in ``draft_inbox/``); templates see
    ``can_write``, False for a read-only session."""
    values = {"can_write": can_write(session), **context}
    return web.render(
        request, f"draft_inbox/{template}", values, session=session, status_code=status_code
    )


def can_write(session: WebSession) -> bool:
    """Whether the session may change drafts (not signed in with the read-only key)."""
    from draft_api.ui import READER

    return session.identity.role != READER


def require_write(session: WebSession) -> None:
    """Refuse a change from a read-only session.

    Raises:
        InboxError: 403, the session signed in with ``DRAFTS_READ_ONLY_API_KEY``.
    """
    if not can_write(session):
        raise InboxError(
            403,
            "Read-only key",
            "This session signed in with the read-only key (DRAFTS_READ_ONLY_API_KEY), which "
            "may not change drafts; nothing was changed. Sign in with DRAFTS_API_KEY to act.",
        )


def render_fragment(
    request: Request, web: WebUI, session: WebSession, template: str, context: Mapping[str, Any]
) -> str:
    """A fragment's HTML (for an htmx swap or an event's data)."""
    response = render(request, web, session, template, context)
    return bytes(response.body).decode()
