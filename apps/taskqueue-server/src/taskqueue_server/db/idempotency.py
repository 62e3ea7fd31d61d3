"""The idempotency store: the first response to a POST with an ``Idempotency-Key``.

A repeat with the same key and the same body gets the stored response; the same key with a
different body is a conflict. Entries older than the TTL (24 h by default) are ignored and
purged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskqueue_server.db.schema import IdempotencyRow, utcnow
from taskqueue_server.errors import IdempotencyConflictError

__all__ = ["IdempotencyStore", "StoredResponse", "request_fingerprint"]


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """A hash identifying the request a key was first used with."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    """A response kept for replay."""

    status_code: int
    body: str


class IdempotencyStore:
    """Keys are scoped (per API key), so two clients never see each other's responses.

    Args:
        sessions: The session factory bound to the server's engine.
        readers: Sessions for reads (see :func:`~taskqueue_server.db.engine.read_session_factory`);
            ``sessions`` when omitted.
        ttl_seconds: How long a response is kept.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ttl_seconds: int,
        readers: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._readers = readers or sessions
        self._ttl = timedelta(seconds=ttl_seconds)

    async def lookup(self, scope: str, key: str, fingerprint: str) -> StoredResponse | None:
        """Return the stored response for ``key``, or None when the key is new or expired.

        Raises:
            IdempotencyConflictError: the key was used with a different request.
        """
        async with self._readers() as session:
            row = await session.get(IdempotencyRow, (scope, key))
        if row is None or row.created_at < utcnow() - self._ttl:
            return None
        if row.request_hash != fingerprint:
            raise IdempotencyConflictError(
                f"Idempotency-Key {key!r} was already used with a different request body; "
                "use a new key for a new request",
                idempotency_key=key,
            )
        return StoredResponse(row.status_code, row.body)

    async def save(
        self, scope: str, key: str, fingerprint: str, response: StoredResponse
    ) -> StoredResponse:
        """Store ``response`` for ``key``; if a concurrent request stored one first, return
        that one instead so every caller sees the same answer."""
        now = utcnow()
        try:
            async with self._sessions.begin() as session:
                await session.execute(
                    delete(IdempotencyRow).where(
                        IdempotencyRow.scope == scope,
                        IdempotencyRow.key == key,
                        IdempotencyRow.created_at < now - self._ttl,
                    )
                )
                session.add(
                    IdempotencyRow(
                        scope=scope,
                        key=key,
                        request_hash=fingerprint,
                        status_code=response.status_code,
                        body=response.body,
                        created_at=now,
                    )
                )
        except IntegrityError:
            existing = await self.lookup(scope, key, fingerprint)
            if existing is not None:
                return existing
            raise
        return response

    async def purge(self) -> int:
        """Delete expired entries; returns how many."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(IdempotencyRow).where(IdempotencyRow.created_at < utcnow() - self._ttl)
            )
            return int(getattr(result, "rowcount", 0) or 0)
