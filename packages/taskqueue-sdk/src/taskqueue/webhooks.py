"""Standard Webhooks signing and verification, usable from any web framework.

A request carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` entries over
``"{id}.{timestamp}.{body}"``, keyed with the base64 part of a ``whsec_<base64>`` secret.
Several signatures (and several secrets on the receiving side) allow key rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence

from pydantic import ValidationError as PydanticValidationError

from taskqueue.errors import WebhookVerificationError
from taskqueue.models.webhooks import WebhookEvent

__all__ = [
    "DEFAULT_TOLERANCE",
    "SECRET_PREFIX",
    "generate_secret",
    "sign_webhook",
    "verify_signature",
    "verify_webhook",
    "webhook_headers",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DEFAULT_TOLERANCE = 300
"""Seconds a timestamp may be away from now, either way."""


def generate_secret(nbytes: int = 24) -> str:
    """Return a fresh signing secret, ``whsec_`` followed by base64 of random bytes.

    Args:
        nbytes: How many random bytes (24 by default, at least 16).
    """
    if nbytes < 16:
        raise ValueError(f"nbytes must be at least 16 for a safe key, got {nbytes}")
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookVerificationError(
            "the webhook secret is not 'whsec_' followed by base64; copy it exactly as the "
            "server returned it"
        ) from exc


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """Return the ``v1,<base64>`` signature of one webhook request.

    Args:
        secret: The ``whsec_<base64>`` secret.
        msg_id: The ``webhook-id`` value.
        timestamp: The ``webhook-timestamp`` value (Unix seconds).
        body: The exact request body.
    """
    to_sign = f"{msg_id}.{timestamp}.".encode() + _as_bytes(body)
    digest = hmac.new(_key(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_headers(
    secrets_: str | Sequence[str],
    body: bytes | str,
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Return the three headers a sender attaches, signed with every secret given.

    Args:
        secrets_: One secret, or several during a rotation (one signature each).
        body: The exact request body.
        msg_id: The event id; a fresh ``msg_<uuid>`` when omitted. Keep it across redeliveries.
        timestamp: Unix seconds; now when omitted.
    """
    keys = [secrets_] if isinstance(secrets_, str) else list(secrets_)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = int(time.time()) if timestamp is None else timestamp
    signature = " ".join(sign_webhook(key, msg_id, ts, body) for key in keys)
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(name)
    if not value:
        raise WebhookVerificationError(f"missing {name} header; is this a Task Queue webhook?")
    return value


def verify_signature(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str | Sequence[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> str:
    """Check a webhook request's timestamp and signature; return its ``webhook-id``.

    Args:
        headers: The request headers (any case).
        body: The raw request body, exactly as received.
        secret: The subscription's secret, or several while rotating.
        tolerance: Seconds the timestamp may be away from now, either way.
        now: The current Unix time (for tests); the clock when omitted.

    Raises:
        WebhookVerificationError: when a header is missing, the timestamp is outside the
            tolerance, or no signature matches any secret.
    """
    msg_id = _header(headers, "webhook-id")
    raw_ts = _header(headers, "webhook-timestamp")
    raw_sig = _header(headers, "webhook-signature")
    try:
        timestamp = int(raw_ts)
    except ValueError as exc:
        raise WebhookVerificationError(f"webhook-timestamp {raw_ts!r} is not Unix seconds") from exc
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError(
            f"webhook timestamp is {int(current - timestamp)} s old (tolerance {tolerance} s); "
            "possible replay, or the receiver's clock is wrong"
        )
    if timestamp > current + tolerance:
        raise WebhookVerificationError(
            f"webhook timestamp is {int(timestamp - current)} s in the future "
            f"(tolerance {tolerance} s); check the clocks"
        )
    keys = [secret] if isinstance(secret, str) else list(secret)
    if not keys:
        raise WebhookVerificationError("no webhook secret configured to verify with")
    offered = [part.strip() for part in raw_sig.split(" ") if part.strip()]
    expected = [sign_webhook(key, msg_id, timestamp, body) for key in keys]
    matched = False
    # Every pair is compared (no early exit) so timing says nothing about which one matched.
    for candidate in offered:
        for good in expected:
            matched |= hmac.compare_digest(candidate.encode(), good.encode())
    if not matched:
        raise WebhookVerificationError(
            "no webhook signature matches the secret; check the secret, and that the body "
            "is passed exactly as received (not re-serialised)"
        )
    return msg_id


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str | Sequence[str],
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> WebhookEvent:
    """Verify a webhook request and return its event.

    Args:
        headers: The request headers (any case).
        body: The raw request body, exactly as received.
        secret: The subscription's secret, or several while rotating.
        tolerance: Seconds the timestamp may be away from now, either way.
        now: The current Unix time (for tests); the clock when omitted.

    Raises:
        WebhookVerificationError: when verification fails or the body is not an event.
    """
    verify_signature(headers, body, secret, tolerance=tolerance, now=now)
    try:
        return WebhookEvent.model_validate(json.loads(_as_bytes(body)))
    except (ValueError, PydanticValidationError) as exc:
        raise WebhookVerificationError(
            f"the webhook body is signed but is not a Task Queue event: {exc}"
        ) from exc
