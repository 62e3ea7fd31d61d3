"""Signed, expiring session cookies and CSRF tokens bound to them (HMAC-SHA256).

A cookie is ``base64url(json payload) "." base64url(hmac)``; the payload holds a random
session id, the :class:`~api_core.web.identity.WebIdentity` and the expiry time, never the API
key. A CSRF token is an HMAC of the session id under a separate derived key, so it is bound to
one session and needs no server-side state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from api_core.settings import ApiSettings
from api_core.web.identity import WebIdentity
from platform_core.errors import ConfigurationError
from platform_core.logging import get_logger

__all__ = ["SessionCodec", "WebSession", "session_secret"]

_log = get_logger(__name__)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class WebSession:
    """A valid, signed-in session.

    Attributes:
        id: The random session id (what CSRF tokens are bound to).
        identity: Who signed in.
        expires_at: Unix time the session ends.
        csrf_token: The token every unsafe request of this session must carry.
    """

    id: str
    identity: WebIdentity
    expires_at: int
    csrf_token: str


def session_secret(settings: ApiSettings) -> bytes:
    """The secret that signs sessions: ``session_secret`` from the settings.

    When unset, development and test get a random secret per process (with a warning: sessions
    end at restart and are not shared between processes); staging and production refuse.

    Raises:
        ConfigurationError: unset in staging or production.
    """
    variable = f"{settings.model_config.get('env_prefix', '')}SESSION_SECRET"
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode()
    if settings.environment in ("staging", "production"):
        raise ConfigurationError(
            f"{variable} is not set; web sign-in needs a secret of 32+ characters shared by "
            "every process (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)",
            setting=variable,
        )
    _log.warning(
        "web sessions are signed with a random per-process secret: they end when the process "
        "restarts and other processes reject them; set the variable to keep them",
        setting=variable,
    )
    return secrets.token_bytes(32)


class SessionCodec:
    """Signs and reads session cookies and derives CSRF tokens.

    Args:
        secret: The signing secret (see :func:`session_secret`).
        max_age: Seconds a session lasts.
    """

    def __init__(self, secret: bytes, max_age: int) -> None:
        self._sign_key = hmac.digest(secret, b"api-core web session v1", hashlib.sha256)
        self._csrf_key = hmac.digest(secret, b"api-core web csrf v1", hashlib.sha256)
        self.max_age = max_age

    def _sign(self, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        mac = hmac.digest(self._sign_key, body.encode(), hashlib.sha256)
        return f"{body}.{_b64(mac)}"

    def _read(self, cookie: str | None, kind: str) -> dict[str, Any] | None:
        if not cookie or cookie.count(".") != 1 or len(cookie) > 4096:
            return None
        body, mac = cookie.split(".")
        expected = _b64(hmac.digest(self._sign_key, body.encode(), hashlib.sha256))
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(payload, dict) or payload.get("k") != kind:
            return None
        exp = payload.get("exp")
        if not isinstance(exp, int) or exp <= time.time():
            return None
        return payload

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token bound to ``session_id``."""
        return _b64(hmac.digest(self._csrf_key, session_id.encode(), hashlib.sha256))

    def csrf_ok(self, session_id: str, token: str | None) -> bool:
        """Whether ``token`` is ``session_id``'s CSRF token (constant-time compare)."""
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session_id))

    def issue(self, identity: WebIdentity) -> tuple[str, WebSession]:
        """A new session for ``identity``: the cookie value and the session it encodes."""
        session_id = secrets.token_urlsafe(18)
        expires = int(time.time()) + self.max_age
        cookie = self._sign({"k": "s", "sid": session_id, "exp": expires, **identity.to_json()})
        return cookie, WebSession(session_id, identity, expires, self.csrf_token(session_id))

    def read(self, cookie: str | None) -> WebSession | None:
        """The session a cookie holds; None when absent, forged, malformed or expired."""
        payload = self._read(cookie, "s")
        if payload is None or not isinstance(payload.get("sid"), str):
            return None
        try:
            identity = WebIdentity.from_json(payload)
        except ValueError:
            return None
        sid = payload["sid"]
        return WebSession(sid, identity, payload["exp"], self.csrf_token(sid))

    def issue_pre(self, max_age: int = 3600) -> tuple[str, str]:
        """A pre-sign-in cookie (for the sign-in form's CSRF token): its value and the nonce."""
        nonce = secrets.token_urlsafe(18)
        return self._sign({"k": "p", "n": nonce, "exp": int(time.time()) + max_age}), nonce

    def read_pre(self, cookie: str | None) -> str | None:
        """The nonce of a valid pre-sign-in cookie, else None."""
        payload = self._read(cookie, "p")
        nonce = None if payload is None else payload.get("n")
        return nonce if isinstance(nonce, str) else None
