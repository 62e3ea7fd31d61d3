"""Webhook subscriptions, deliveries and their attempts.

Deliveries are rows, so a retry survives a restart and any number of delivery processes can
share the work: each takes due deliveries with a short lease (``SKIP LOCKED`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), exactly like tasks.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskqueue_server.db.schema import DeliveryAttemptRow, DeliveryRow, WebhookRow, utcnow
from taskqueue_server.db.tenancy import DEFAULT_TENANT, ScopedStore
from taskqueue_server.errors import NotFoundError

__all__ = ["WebhookStore", "delivery_to_wire", "webhook_to_wire"]

_ACTIVE_CACHE_SECONDS = 2.0


def webhook_to_wire(row: WebhookRow) -> dict[str, Any]:
    """The subscription as a dict (the secret is included only at creation by the route)."""
    return {
        "id": str(row.id),
        "url": row.url,
        "events": list(row.event_types or []),
        "description": row.description,
        "active": row.active,
        "disabled_reason": row.disabled_reason,
        "created_at": row.created_at.isoformat(),
    }


def delivery_to_wire(row: DeliveryRow, attempts: Sequence[DeliveryAttemptRow]) -> dict[str, Any]:
    """A delivery and its attempts as a dict."""
    return {
        "id": str(row.id),
        "webhook_id": str(row.webhook_id),
        "event_id": row.event_id,
        "event_type": row.event_type,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "response_status": row.last_status_code,
        "error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "last_attempt_at": attempts[-1].attempted_at.isoformat() if attempts else None,
        "payload": json.loads(row.payload),
        "attempt_log": [
            {
                "attempted_at": a.attempted_at.isoformat(),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ],
    }


class WebhookStore(ScopedStore):
    """Subscriptions and the delivery queue.

    Args:
        sessions: The session factory bound to the server's engine.
        readers: Sessions for reads (see :func:`~taskqueue_server.db.engine.read_session_factory`);
            ``sessions`` when omitted.
        dialect: The engine's dialect name; ``"postgresql"`` enables ``SKIP LOCKED``.

    The subscription routes use it bound to a tenant (:meth:`scoped`); the delivery machinery
    (``enqueue``, ``take_due``, ``record_attempt``) spans tenants and matches each event only
    with its own tenant's subscriptions.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        dialect: str,
        readers: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._readers = readers or sessions
        self._skip_locked = dialect == "postgresql"
        # One list shared by every scoped copy of this store, so a change made through any of
        # them clears the cache for all: [] or [(subscriptions, valid until)].
        self._active_cache: list[tuple[list[tuple[uuid.UUID, list[str], str]], float]] = []
        # Bumped by every change (shared the same way): a read that overlapped a change does
        # not refill the cache, or it would keep the old list for _ACTIVE_CACHE_SECONDS.
        self._active_epoch: list[int] = [0]

    async def _active(self) -> list[tuple[uuid.UUID, list[str], str]]:
        # Every task change asks this; a short cache keeps it off the database. Changes made
        # by this process clear it at once, others' show within _ACTIVE_CACHE_SECONDS.
        now = time.monotonic()
        if self._active_cache and self._active_cache[0][1] > now:
            return self._active_cache[0][0]
        epoch = self._active_epoch[0]
        async with self._readers() as reader:
            rows = await reader.execute(
                select(WebhookRow.id, WebhookRow.event_types, WebhookRow.tenant_id).where(
                    WebhookRow.active
                )
            )
            active = [(hook_id, list(types or []), tenant) for hook_id, types, tenant in rows]
        if self._active_epoch[0] == epoch:
            self._active_cache[:] = [(active, now + _ACTIVE_CACHE_SECONDS)]
        return active

    def _forget_active(self) -> None:
        """Drop the cached subscriptions after a change (and keep reads in flight from
        caching what they saw before it)."""
        self._active_epoch[0] += 1
        self._active_cache.clear()

    async def subscribers(self, event_type: str, tenant: str) -> list[uuid.UUID]:
        """The active subscriptions of ``tenant`` that want ``event_type`` (from a short
        cache, see :meth:`_active`)."""
        return [
            hook_id
            for hook_id, types, owner in await self._active()
            if owner == tenant and (not types or event_type in types)
        ]

    async def create(
        self, url: str, secret: str, event_types: Sequence[str], description: str | None
    ) -> WebhookRow:
        """Store a subscription in this store's tenant."""
        row = WebhookRow(
            id=uuid.uuid4(),
            tenant_id=self.scope.tenant,
            url=url,
            secret=secret,
            event_types=list(event_types),
            description=description,
            active=True,
            created_at=utcnow(),
        )
        async with self._sessions.begin() as session:
            session.add(row)
        self._forget_active()
        return row

    async def get(self, webhook_id: uuid.UUID) -> WebhookRow:
        """Return one subscription.

        Raises:
            NotFoundError: unknown id.
        """
        async with self._readers() as session:
            return await self._load(session, webhook_id)

    async def _load(self, session: AsyncSession, webhook_id: uuid.UUID) -> WebhookRow:
        scope = self.scope
        row = await session.get(WebhookRow, webhook_id)
        if row is None or row.tenant_id != scope.tenant:  # tenant filter
            raise NotFoundError("webhook", webhook_id)
        return row

    async def all(self) -> list[WebhookRow]:
        """Every subscription, oldest first."""
        async with self._readers() as session:
            rows = await session.scalars(
                select(WebhookRow)
                .where(self._tenant_where(WebhookRow))
                .order_by(WebhookRow.created_at, WebhookRow.id)
            )
            return list(rows.all())

    async def delete(self, webhook_id: uuid.UUID) -> None:
        """Delete a subscription and its delivery history.

        Raises:
            NotFoundError: unknown id.
        """
        async with self._sessions.begin() as session:
            row = await self._load(session, webhook_id)
            await session.delete(row)
        self._forget_active()

    async def enqueue(
        self,
        event_id: str,
        event_type: str,
        payload: str,
        *,
        tenant: str = DEFAULT_TENANT,
        traceparent: str | None = None,
    ) -> int:
        """Create one delivery per active subscription of ``tenant`` that wants ``event_type``.

        Args:
            event_id: The webhook message id.
            event_type: The event's type.
            payload: The JSON body to POST.
            tenant: The tenant whose task or project changed; only its subscriptions get it.
            traceparent: The W3C trace context the deliveries' POSTs continue.

        Returns:
            How many deliveries were queued.
        """
        now = utcnow()
        wanted = await self.subscribers(event_type, tenant)
        if not wanted:  # the common case: no write transaction at all
            return 0
        async with self._sessions.begin() as session:
            session.add_all(
                DeliveryRow(
                    id=uuid.uuid4(),
                    webhook_id=hook_id,
                    event_id=event_id,
                    event_type=event_type,
                    payload=payload,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                    traceparent=traceparent,
                )
                for hook_id in wanted
            )
            return len(wanted)

    async def take_due(
        self, limit: int, lease_seconds: float
    ) -> list[tuple[DeliveryRow, WebhookRow]]:
        """Lease up to ``limit`` due deliveries to this process."""
        now = utcnow()
        async with self._sessions.begin() as session:
            due = (
                select(DeliveryRow.id)
                .where(
                    DeliveryRow.status == "pending",
                    DeliveryRow.webhook_id.in_(select(WebhookRow.id).where(WebhookRow.active)),
                    DeliveryRow.next_attempt_at <= now,
                    or_(DeliveryRow.lease_expires_at.is_(None), DeliveryRow.lease_expires_at < now),
                )
                .order_by(DeliveryRow.next_attempt_at)
                .limit(limit)
            )
            if self._skip_locked:
                due = due.with_for_update(skip_locked=True)
            ids = list((await session.scalars(due)).all())
            if not ids:
                return []
            rows = await session.scalars(
                update(DeliveryRow)
                .where(DeliveryRow.id.in_(ids))
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
                .returning(DeliveryRow)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
            deliveries = list(rows.all())
            hooks = {
                h.id: h
                for h in (
                    await session.scalars(
                        select(WebhookRow).where(
                            WebhookRow.id.in_({d.webhook_id for d in deliveries})
                        )
                    )
                ).all()
            }
            return [(d, hooks[d.webhook_id]) for d in deliveries if d.webhook_id in hooks]

    async def record_attempt(
        self,
        delivery_id: uuid.UUID,
        *,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        outcome: str,
        next_attempt_at: datetime | None,
        disable_reason: str | None = None,
    ) -> None:
        """Record one HTTP attempt and the delivery's new state.

        Args:
            delivery_id: The delivery.
            status_code: The receiver's status, None when no response came.
            error: What went wrong, if anything.
            duration_ms: How long the attempt took.
            outcome: ``"succeeded"``, ``"pending"`` (retry at ``next_attempt_at``) or
                ``"failed"`` (gave up).
            next_attempt_at: When to retry.
            disable_reason: Set to disable the subscription (the receiver answered 410).
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await session.get(DeliveryRow, delivery_id)
            if row is None:  # the subscription was deleted meanwhile
                return
            session.add(
                DeliveryAttemptRow(
                    delivery_id=delivery_id,
                    attempted_at=now,
                    status_code=status_code,
                    error=error,
                    duration_ms=duration_ms,
                )
            )
            row.attempts += 1
            row.status = outcome
            row.last_status_code = status_code
            row.last_error = error
            row.next_attempt_at = next_attempt_at
            row.lease_expires_at = None
            row.updated_at = now
            if disable_reason is not None:
                hook = await session.get(WebhookRow, row.webhook_id)
                if hook is not None:
                    hook.active = False
                    hook.disabled_reason = disable_reason
        if disable_reason is not None:
            self._forget_active()

    async def deliveries(
        self, webhook_id: uuid.UUID, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the subscription's deliveries, newest first, with their attempts, and
        the total.

        Raises:
            NotFoundError: unknown subscription.
        """
        async with self._readers() as session:
            await self._load(session, webhook_id)
            rows = (
                await session.scalars(
                    select(DeliveryRow)
                    .where(DeliveryRow.webhook_id == webhook_id)
                    .order_by(DeliveryRow.created_at.desc(), DeliveryRow.id)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
            total = await session.scalar(
                select(func.count())
                .select_from(DeliveryRow)
                .where(DeliveryRow.webhook_id == webhook_id)
            )
            return [await self._with_attempts(session, r) for r in rows], int(total or 0)

    @staticmethod
    async def _with_attempts(session: AsyncSession, row: DeliveryRow) -> dict[str, Any]:
        attempts = (
            await session.scalars(
                select(DeliveryAttemptRow)
                .where(DeliveryAttemptRow.delivery_id == row.id)
                .order_by(DeliveryAttemptRow.id)
            )
        ).all()
        return delivery_to_wire(row, attempts)

    async def redeliver(self, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> dict[str, Any]:
        """Queue a delivery to be sent again now, keeping its ``webhook-id``.

        A subscription disabled by a 410 stays disabled, so the delivery is only attempted
        once it is active again.

        Raises:
            NotFoundError: unknown subscription or delivery.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            await self._load(session, webhook_id)
            row = await session.get(DeliveryRow, delivery_id)
            if row is None or row.webhook_id != webhook_id:
                raise NotFoundError("delivery", delivery_id)
            row.status = "pending"
            row.next_attempt_at = now
            row.lease_expires_at = None
            row.updated_at = now
            await session.flush()
            return await self._with_attempts(session, row)
