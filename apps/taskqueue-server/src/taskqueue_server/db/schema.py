"""The tables. Alembic migrations in :mod:`taskqueue_server.migrations` create exactly these."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api_core.sqltypes import UTCDateTime

__all__ = [
    "ApiKeyRow",
    "Base",
    "DeliveryAttemptRow",
    "DeliveryRow",
    "IdempotencyRow",
    "ProjectRow",
    "ServiceClockRow",
    "TaskDependencyRow",
    "TaskRow",
    "WebhookRow",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class ProjectRow(Base):
    """A project groups tasks."""

    __tablename__ = "projects"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), index=True)
    due_date: Mapped[date | None] = mapped_column(Date)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    tenant_id: Mapped[str] = mapped_column(String(64), default="default", index=True)

    __table_args__ = (Index("ix_projects_created", "created_at", "id"),)


class TaskRow(Base):
    """A task: the contract's fields plus the lease bookkeeping the API does not expose."""

    __tablename__ = "tasks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    command: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    technical_specs: Mapped[str | None] = mapped_column(Text)
    acceptance_criteria: Mapped[list[Any]] = mapped_column(JSON, default=list)
    task_type: Mapped[str] = mapped_column(String(32), index=True)
    priority: Mapped[str] = mapped_column(String(16), index=True)
    priority_rank: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("projects.id", ondelete="RESTRICT"), index=True
    )
    timeout: Mapped[float | None] = mapped_column(Float)
    retry_attempts: Mapped[int] = mapped_column(Integer, default=3)
    retry_delay: Mapped[float] = mapped_column(Float, default=30.0)
    environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Values given only to the worker holding the lease; redacted everywhere else.
    secret_environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    working_directory: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), index=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    phases: Mapped[list[Any]] = mapped_column(JSON, default=list)
    current_phase: Mapped[str | None] = mapped_column(String(32))
    ai_reviews_required: Mapped[int] = mapped_column(Integer, default=3)
    ai_reviews_completed: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Lease bookkeeping (not part of the wire contract).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    # The current lease's secret; kept after the holder's report (so a replay is recognised),
    # cleared when the lease is taken back without one.
    lease_token: Mapped[str | None] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(String(64), default="default")

    __table_args__ = (
        Index("ix_tasks_runnable", "status", "priority_rank", "created_at"),
        Index("ix_tasks_created", "created_at", "id"),
        # Keyset pages of filtered lists (GET /api/tasks?status=...&cursor=...).
        Index("ix_tasks_status_created", "status", "created_at", "id"),
        Index("ix_tasks_project_created", "project_id", "created_at", "id"),
        Index("ix_tasks_lease", "status", "lease_expires_at"),
        Index("ix_tasks_tenant_created", "tenant_id", "created_at", "id"),
    )


class TaskDependencyRow(Base):
    """``task_id`` may run only after ``depends_on_id`` completed."""

    __tablename__ = "task_dependencies"

    task_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    depends_on_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ApiKeyRow(Base):
    """An API key, stored as the SHA-256 of its secret part."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    tenant_id: Mapped[str] = mapped_column(String(64), default="default", index=True)
    role: Mapped[str] = mapped_column(String(16), default="admin")
    # Project ids (strings) the key is restricted to; NULL: every project of its tenant.
    projects: Mapped[list[Any] | None] = mapped_column(JSON)


class IdempotencyRow(Base):
    """The first response to a POST carrying an ``Idempotency-Key``; ``status_code`` and
    ``body`` are NULL while that request is still running."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ServiceClockRow(Base):
    """When a server was last seen running (see :mod:`taskqueue_server.db.lease_clock`)."""

    __tablename__ = "service_clock"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column()


class WebhookRow(Base):
    """A webhook subscription."""

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(200))
    event_types: Mapped[list[Any]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    tenant_id: Mapped[str] = mapped_column(String(64), default="default", index=True)


class DeliveryRow(Base):
    """One event to deliver to one subscription, retried until it succeeds or gives up."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # W3C traceparent of the span that queued the delivery: each POST joins the event's trace.
    traceparent: Mapped[str | None] = mapped_column(String(64))


class DeliveryAttemptRow(Base):
    """One HTTP attempt of a delivery."""

    __tablename__ = "webhook_delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
