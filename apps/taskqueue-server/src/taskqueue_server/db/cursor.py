"""Keyset cursors for list routes: an opaque, checked token for "the rows after this one".

A list is ordered by ``(created_at, id)``, a total order (ids are unique), so "after the last
row of this page" is a single row comparison the ``(created_at, id)`` index answers directly:
page 1,000 costs what page 1 does, and rows inserted while a client pages (they sort last) are
neither skipped nor repeated.

The token is URL-safe base64 of a version byte, the row's ``created_at`` in microseconds, its
id, and a fingerprint of the list's filters, followed by a short BLAKE2 digest of all that. It
is not a secret (it names a row the caller may already read), so the digest is a check, not a
signature: a truncated, edited or foreign token and one reused with other filters are refused
with a 400 naming ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_

from taskqueue_server.db.schema import TaskRow
from taskqueue_server.errors import InvalidCursorError

__all__ = ["Keyset", "decode_cursor", "encode_cursor", "filters_fingerprint"]

_VERSION = 1
_BODY = struct.Struct(">Bq16s8s")
_DIGEST_BYTES = 8
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Keyset:
    """The position after which the next page starts."""

    created_at: datetime
    id: uuid.UUID

    def after(self) -> ColumnElement[bool]:
        """The condition "sorts after this row" in ``(created_at, id)`` order.

        Spelled ``created_at >= t AND (created_at > t OR id > i)``: the first term is a range
        on the index's leading column, so both SQLite and PostgreSQL start the index scan at
        the cursor; the second only sorts out the rows that share its ``created_at``. (The
        plain ``created_at > t OR (created_at = t AND id > i)`` is not a range: PostgreSQL then
        walks the index from the start and filters, which costs page 1,000 a thousand pages.)
        """
        return and_(
            TaskRow.created_at >= self.created_at,
            or_(TaskRow.created_at > self.created_at, TaskRow.id > self.id),
        )


def filters_fingerprint(filters: Mapping[str, object]) -> bytes:
    """Eight bytes identifying the filters a cursor was issued for (unset filters ignored)."""
    canonical = "&".join(f"{k}={v}" for k, v in sorted(filters.items()) if v is not None)
    return hashlib.blake2b(canonical.encode(), digest_size=8).digest()


def _digest(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=_DIGEST_BYTES, person=b"tq-cursor").digest()


def _micros(value: datetime) -> int:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    delta = aware - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode_cursor(created_at: datetime, row_id: uuid.UUID, fingerprint: bytes) -> str:
    """The token for "rows after ``(created_at, row_id)``" under the given filters."""
    body = _BODY.pack(_VERSION, _micros(created_at), row_id.bytes, fingerprint)
    return base64.urlsafe_b64encode(body + _digest(body)).rstrip(b"=").decode()


def decode_cursor(token: str, fingerprint: bytes) -> Keyset:
    """Read a token made by :func:`encode_cursor`.

    Raises:
        InvalidCursorError: the token is malformed, altered, from another version, or was
            issued for other filters.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursorError("is not a cursor this server issued (not base64)") from exc
    body, digest = raw[: _BODY.size], raw[_BODY.size :]
    if len(body) != _BODY.size or digest != _digest(body):
        raise InvalidCursorError("is not a cursor this server issued (damaged or altered)")
    version, micros, row_id, issued_for = _BODY.unpack(body)
    if version != _VERSION:
        raise InvalidCursorError(f"has version {version}; this server reads version {_VERSION}")
    if issued_for != fingerprint:
        raise InvalidCursorError(
            "was issued for other filters; send the same filters as the first page, "
            "or leave cursor out to start again"
        )
    try:
        created = _EPOCH + timedelta(microseconds=micros)
    except OverflowError as exc:
        raise InvalidCursorError("holds a time out of range") from exc
    return Keyset(created_at=created, id=uuid.UUID(bytes=row_id))
