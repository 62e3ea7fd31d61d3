"""API keys: created once, shown once, stored as a SHA-256 hash, checked in constant time.

A key looks like ``tq_<prefix>_<secret>``. The prefix finds the row; the hash of the whole key
is compared with :func:`hmac.compare_digest`. Keys carry 256 bits of randomness, so a fast
hash is enough (a slow password hash protects guessable secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskqueue_server.db.schema import ApiKeyRow, utcnow

__all__ = ["ApiKeyStore", "CreatedKey", "hash_key"]

_PREFIX = "tq_"


def hash_key(key: str) -> str:
    """The hex SHA-256 of ``key``, as stored."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedKey:
    """A newly created key: ``key`` is shown once and never stored."""

    id: uuid.UUID
    name: str
    key: str


class ApiKeyStore:
    """Create, verify and revoke API keys.

    Args:
        sessions: The session factory bound to the server's engine.
        readers: Sessions for reads (see :func:`~taskqueue_server.db.engine.read_session_factory`);
            ``sessions`` when omitted.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._readers = readers or sessions

    async def create(self, name: str) -> CreatedKey:
        """Create a key named ``name`` and return it in clear (the only time it exists so)."""
        prefix = secrets.token_hex(6)
        key = f"{_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        row = ApiKeyRow(
            id=uuid.uuid4(), name=name, prefix=prefix, key_hash=hash_key(key), created_at=utcnow()
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return CreatedKey(row.id, name, key)

    async def verify(self, key: str) -> uuid.UUID | None:
        """Return the id of the active key matching ``key``, or None."""
        if not key.startswith(_PREFIX) or key.count("_") < 2:
            return None
        prefix = key[len(_PREFIX) :].split("_", 1)[0]
        async with self._readers() as session:
            row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.key_hash, hash_key(key)):
            return None
        return row.id

    async def revoke(self, key_id: uuid.UUID) -> bool:
        """Revoke a key; returns False when no such key exists."""
        async with self._sessions.begin() as session:
            row = await session.get(ApiKeyRow, key_id)
            if row is None:
                return False
            row.revoked_at = utcnow()
            return True
