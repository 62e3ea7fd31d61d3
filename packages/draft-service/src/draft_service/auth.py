"""Which API key a request carries: the service key (everything) or the read-only key."""

from __future__ import annotations

import hmac
from typing import Literal

from pydantic import SecretStr

from draft_service.settings import DraftSettings

__all__ = ["Access", "key_access"]

Access = Literal["full", "read"]
"""What a key may do: ``full`` (``DRAFTS_API_KEY``) or ``read`` (``DRAFTS_READ_ONLY_API_KEY``:
reads, lists and event streams only)."""


def key_access(settings: DraftSettings, given: str) -> Access | None:
    """What the bearer key ``given`` may do, or ``None`` for a missing or unknown key.

    With ``DRAFTS_AUTH_DISABLED`` every request may do everything. Keys are compared in
    constant time.

    Args:
        settings: The service's settings.
        given: The key the request sent ("" for none).
    """
    if settings.auth_disabled:
        return "full"
    if _same(given, settings.api_key):
        return "full"
    if _same(given, settings.read_only_api_key):
        return "read"
    return None


def _same(given: str, secret: SecretStr | None) -> bool:
    if secret is None or not given:
        return False
    return hmac.compare_digest(given.encode(), secret.get_secret_value().encode())
