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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_core.errors import ConfigurationError
from taskqueue_server.db.keyformat import KEY_PREFIX, is_well_formed_key, key_prefix
from taskqueue_server.db.schema import ApiKeyRow, utcnow
from taskqueue_server.db.tenancy import DEFAULT_TENANT, Role, TenantScope, check_tenant_name

__all__ = ["ApiKeyInfo", "ApiKeyStore", "CreatedKey", "hash_key"]

_PREFIX = KEY_PREFIX


def hash_key(key: str) -> str:
    """The hex SHA-256 of ``key``, as stored."""
    return hashlib.sha256(key.encode()).hexdigest()


class _PrefixTakenError(Exception):
    """The key's prefix is taken (found before inserting)."""


@dataclass(frozen=True)
class CreatedKey:
    """A newly created key: ``key`` is shown once and never stored."""

    id: uuid.UUID
    name: str
    key: str
    tenant: str = DEFAULT_TENANT
    role: Role = Role.ADMIN
    projects: tuple[uuid.UUID, ...] | None = None


def _projects(row: ApiKeyRow) -> frozenset[uuid.UUID] | None:
    return None if row.projects is None else frozenset(uuid.UUID(str(p)) for p in row.projects)


def _scope(row: ApiKeyRow) -> TenantScope:
    return TenantScope(row.tenant_id, Role(row.role), _projects(row), str(row.id))


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown about a key: never its secret nor its hash.

    Attributes:
        id: The key's id (what ``create-api-key`` prints).
        name: Who or what the key is for.
        prefix: The public part of the key, ``tq_<prefix>_...``.
        created_at: When it was created.
        revoked_at: When it was revoked; None while it is active.
        tenant: The tenant the key belongs to.
        role: What the key may do.
        projects: The projects the key is restricted to; None: all of its tenant's.
    """

    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    tenant: str = DEFAULT_TENANT
    role: Role = Role.ADMIN
    projects: tuple[uuid.UUID, ...] | None = None

    @classmethod
    def of(cls, row: ApiKeyRow) -> ApiKeyInfo:
        """The shareable part of a stored key."""
        projects = _projects(row)
        return cls(
            row.id,
            row.name,
            row.prefix,
            row.created_at,
            row.revoked_at,
            row.tenant_id,
            Role(row.role),
            None if projects is None else tuple(sorted(projects, key=str)),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields, for ``--json`` output."""
        return {
            "id": str(self.id),
            "name": self.name,
            "prefix": f"{_PREFIX}{self.prefix}_",
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "tenant": self.tenant,
            "role": str(self.role),
            "projects": None if self.projects is None else [str(p) for p in self.projects],
        }


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

    async def create(
        self,
        name: str,
        *,
        tenant: str = DEFAULT_TENANT,
        role: Role = Role.ADMIN,
        projects: Sequence[uuid.UUID] | None = None,
    ) -> CreatedKey:
        """Create a key and return it in clear (the only time it exists so).

        Args:
            name: Who or what the key is for.
            tenant: The tenant it belongs to.
            role: What it may do.
            projects: Restrict it to these projects (None: every project of the tenant).

        Raises:
            ValueError: the tenant name is malformed.
        """
        check_tenant_name(tenant)
        prefix = secrets.token_hex(6)
        key = f"{_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        restricted = None if projects is None else tuple(dict.fromkeys(projects))
        row = ApiKeyRow(
            id=uuid.uuid4(),
            name=name,
            prefix=prefix,
            key_hash=hash_key(key),
            created_at=utcnow(),
            tenant_id=tenant,
            role=str(Role(role)),
            projects=None if restricted is None else [str(p) for p in restricted],
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return CreatedKey(row.id, name, key, tenant, Role(role), restricted)

    async def ensure(self, key: str, name: str, *, setting: str | None = None) -> bool:
        """Store ``key`` (hashed) under ``name`` unless a key with that value exists.

        Safe to run from several processes at once: the prefix is unique, so one insert wins
        and the others find its row. A revoked key stays revoked.

        Args:
            key: The key in clear, shaped ``tq_<prefix>_<secret>``.
            name: Who or what the key is for.
            setting: The setting the key came from, named in errors.

        Returns:
            True when this call stored the key.

        Raises:
            ConfigurationError: the key is malformed, or its prefix belongs to another key.
        """
        where = f"{setting}: " if setting else ""
        prefix = key_prefix(key) if is_well_formed_key(key) else None
        if prefix is None:
            raise ConfigurationError(
                f"{where}the API key must look like tq_<prefix>_<secret>", setting=setting
            )
        row = ApiKeyRow(
            id=uuid.uuid4(),
            name=name,
            prefix=prefix,
            key_hash=hash_key(key),
            created_at=utcnow(),
            tenant_id=DEFAULT_TENANT,
            role=str(Role.ADMIN),
        )
        try:
            async with self._sessions.begin() as session:
                if await session.scalar(select(ApiKeyRow.id).where(ApiKeyRow.prefix == prefix)):
                    raise _PrefixTakenError
                session.add(row)
        except (_PrefixTakenError, IntegrityError):
            async with self._sessions() as session:
                existing = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
            if existing is None or not hmac.compare_digest(existing.key_hash, hash_key(key)):
                raise ConfigurationError(
                    f"{where}another API key already uses the prefix {prefix!r}; choose a key "
                    "with a "
                    "different tq_<prefix>_ part",
                    setting=setting,
                ) from None
            return False
        return True

    async def verify(self, key: str) -> uuid.UUID | None:
        """Return the id of the active key matching ``key``, or None."""
        scope = await self.authenticate(key)
        return None if scope is None else uuid.UUID(scope.key_id)

    async def authenticate(self, key: str) -> TenantScope | None:
        """Return the scope (tenant, role, projects, id) of the active key matching ``key``,
        or None."""
        prefix = key_prefix(key)
        if prefix is None:
            return None
        async with self._readers() as session:
            row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.key_hash, hash_key(key)):
            return None
        return _scope(row)

    async def revoke(self, key_id: uuid.UUID) -> bool:
        """Revoke a key (a revoked key keeps its first revocation time); returns False when
        no such key exists."""
        async with self._sessions.begin() as session:
            row = await session.get(ApiKeyRow, key_id)
            if row is None:
                return False
            row.revoked_at = row.revoked_at or utcnow()
            return True

    async def all(self, tenant: str | None = None) -> list[ApiKeyInfo]:
        """Every key (of ``tenant``, when given), active and revoked, oldest first."""
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at)
        if tenant is not None:
            query = query.where(ApiKeyRow.tenant_id == tenant)
        async with self._readers() as session:
            rows = await session.scalars(query)
            return [ApiKeyInfo.of(row) for row in rows.all()]

    async def find(self, ident: str) -> ApiKeyInfo | None:
        """The key ``ident`` names: its id, its prefix (``tq_<prefix>_`` or bare), or the key
        itself; None when none matches."""
        ident = ident.strip()
        async with self._readers() as session:
            try:
                row = await session.get(ApiKeyRow, uuid.UUID(ident))
            except ValueError:
                row = None
            if row is None:
                prefix = key_prefix(ident if ident.count("_") >= 2 else f"{ident}_")
                bare = prefix if prefix is not None else ident
                row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == bare))
        return None if row is None else ApiKeyInfo.of(row)
