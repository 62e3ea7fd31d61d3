"""Who is signed in: the identity an app's key check returns, and the check's signature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

__all__ = ["KeyVerifier", "Revalidator", "WebIdentity"]

_MAX_FIELD = 200


@dataclass(frozen=True, slots=True)
class WebIdentity:
    """The caller an API key stands for, as the web pages see it.

    The session cookie carries this (signed), never the key itself.

    Attributes:
        subject: A stable id of the key (or account) that signed in, e.g. the key's id; what
            an app's ``revalidate`` callback looks up to end sessions of revoked keys.
        label: What the header shows, e.g. the key's name.
        tenant: The tenant the key belongs to, when the app has tenants.
        role: The key's role, when the app has roles.
    """

    subject: str
    label: str
    tenant: str | None = None
    role: str | None = None

    def __post_init__(self) -> None:
        for name in ("subject", "label", "tenant", "role"):
            value = getattr(self, name)
            if value is not None and not 0 < len(value) <= _MAX_FIELD:
                raise ValueError(f"WebIdentity.{name} must be 1-{_MAX_FIELD} characters long")

    def to_json(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (what the session cookie holds)."""
        return {"sub": self.subject, "lbl": self.label, "ten": self.tenant, "rol": self.role}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebIdentity:
        """The identity :meth:`to_json` wrote.

        Raises:
            ValueError: a field is missing or of the wrong type.
        """
        fields = (data.get("sub"), data.get("lbl"), data.get("ten"), data.get("rol"))
        if not all(isinstance(v, str) for v in fields[:2]) or not all(
            v is None or isinstance(v, str) for v in fields[2:]
        ):
            raise ValueError("session identity is malformed")
        return cls(*fields)  # type: ignore[arg-type]


KeyVerifier = Callable[[Request, str], Awaitable[WebIdentity | None]]
"""The app's key check: ``await verify(request, key)`` returns who the key stands for, or None
when the key is unknown or revoked. It must not log or store the key."""

Revalidator = Callable[[Request, WebIdentity], Awaitable[bool]]
"""Optional check run on every page request: False ends the session (e.g. the key was revoked
after sign-in)."""
