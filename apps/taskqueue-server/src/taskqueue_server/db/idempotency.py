"""The idempotency store: the first response to a POST with an ``Idempotency-Key``.

A request reserves its key before it runs, so of concurrent requests with one key exactly one
runs. A repeat with the same key and the same body gets the stored response (or, while the
first is still running, a 409 asking to retry); the same key with a different body is a
conflict. Entries older than the TTL (24 h by default) are ignored and purged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Delete, Update, and_, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from taskqueue_server.db.engine import single_statement_session_factory
from taskqueue_server.db.schema import IdempotencyRow, utcnow
from taskqueue_server.errors import IdempotencyConflictError, IdempotencyInProgressError

__all__ = ["IdempotencyStore", "Reservation", "StoredResponse", "request_fingerprint"]


def _canonical(body: bytes) -> bytes:
    # The same JSON document sent with other whitespace or key order is the same request.
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or not parseable): compare the bytes
        return body
    try:
        return json.dumps(
            parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True
        ).encode()
    except (ValueError, RecursionError):
        return body


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """A hash identifying the request a key was first used with: its method, path and body,
    a JSON body compared as parsed JSON (whitespace and key order do not matter)."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), b"\0", path.encode(), b"\0", _canonical(body)):
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    """A response kept for replay."""

    status_code: int
    body: str


@dataclass(frozen=True)
class Reservation:
    """A key reserved for the request that is running now (see :meth:`IdempotencyStore.begin`)."""

    scope: str
    key: str
    reserved_at: datetime


class IdempotencyStore:
    """Keys are scoped (per API key), so two clients never see each other's responses.

    Args:
        sessions: The session factory bound to the server's engine.
        readers: Sessions for reads (see :func:`~taskqueue_server.db.engine.read_session_factory`);
            ``sessions`` when omitted.
        ttl_seconds: How long a response is kept.
        lock_seconds: How long a key stays reserved by a request that never finished (its
            process died) before another request may take it over.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ttl_seconds: int,
        readers: async_sessionmaker[AsyncSession] | None = None,
        lock_seconds: float = 60.0,
    ) -> None:
        engine = sessions.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("the session factory must be bound to an AsyncEngine")
        self._sessions = sessions
        self._readers = readers or sessions
        self._single_statement = single_statement_session_factory(engine)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._ttl = timedelta(seconds=ttl_seconds)
        self._lock = timedelta(seconds=lock_seconds)

    async def begin(self, scope: str, key: str, fingerprint: str) -> Reservation | StoredResponse:
        """Reserve ``key`` for this request, or return the response it already has.

        One statement inserts the key as in flight, or takes over an expired entry or one
        whose request never finished within the lock time (its process died). Concurrent
        requests with the same key therefore see one winner: the others get the stored
        response once it is finished, and :class:`IdempotencyInProgressError` before.

        Returns:
            A :class:`Reservation` when this request must run (then :meth:`finish` or
            :meth:`release` it), or the first request's :class:`StoredResponse` to replay.

        Raises:
            IdempotencyConflictError: the key was used with a different request.
            IdempotencyInProgressError: the first request with the key is still running.
        """
        table = IdempotencyRow.__table__
        for _ in range(3):  # a key released between our two statements is simply tried again
            now = utcnow()
            insert = self._insert(IdempotencyRow).values(
                scope=scope,
                key=key,
                request_hash=fingerprint,
                status_code=None,
                body=None,
                created_at=now,
            )
            reclaimable = or_(
                table.c.created_at < now - self._ttl,
                and_(table.c.status_code.is_(None), table.c.created_at < now - self._lock),
            )
            statement = insert.on_conflict_do_update(
                index_elements=[table.c.scope, table.c.key],
                set_={
                    "request_hash": insert.excluded.request_hash,
                    "status_code": None,
                    "body": None,
                    "created_at": insert.excluded.created_at,
                },
                where=reclaimable,
            ).returning(table.c.created_at)
            async with self._single_statement() as session:
                won = (await session.execute(statement)).first()
                await session.commit()
            if won is not None:
                return Reservation(scope, key, now)
            async with self._readers() as session:
                row = await session.get(IdempotencyRow, (scope, key), populate_existing=True)
            if row is None:
                continue
            if row.request_hash != fingerprint:
                raise IdempotencyConflictError(
                    f"Idempotency-Key {key!r} was already used with a different request body; "
                    "use a new key for a new request",
                    idempotency_key=key,
                )
            if row.status_code is None or row.body is None:
                raise IdempotencyInProgressError(key)
            return StoredResponse(row.status_code, row.body)
        raise IdempotencyInProgressError(key)

    async def finish(self, reservation: Reservation, response: StoredResponse) -> None:
        """Store the response of the request holding ``reservation``, for replays."""
        await self._settle(
            reservation,
            update(IdempotencyRow).values(status_code=response.status_code, body=response.body),
        )

    async def release(self, reservation: Reservation) -> None:
        """Free the key of a request that failed, so a retry with the key runs again."""
        await self._settle(reservation, delete(IdempotencyRow))

    async def _settle(self, reservation: Reservation, statement: Update | Delete) -> None:
        # Only the entry this request reserved: after the lock time another request may
        # have taken the key over, and its entry is not ours to change.
        async with self._single_statement() as session:
            await session.execute(
                statement.where(
                    IdempotencyRow.scope == reservation.scope,
                    IdempotencyRow.key == reservation.key,
                    IdempotencyRow.created_at == reservation.reserved_at,
                    IdempotencyRow.status_code.is_(None),
                )
            )
            await session.commit()

    async def purge(self) -> int:
        """Delete expired entries; returns how many."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(IdempotencyRow).where(IdempotencyRow.created_at < utcnow() - self._ttl)
            )
            return int(getattr(result, "rowcount", 0) or 0)
