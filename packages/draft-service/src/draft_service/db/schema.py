"""The relational schema: threads, messages, drafts, revisions with provenance, and jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api_core.sqltypes import UTCDateTime

__all__ = ["Base", "Draft", "Job", "Message", "Profile", "Revision", "Thread", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints stably."""

    metadata = MetaData(naming_convention=_NAMING)


class Thread(Base):
    """A conversation of one user; ``version`` grows each time new messages arrive."""

    __tablename__ = "threads"
    __table_args__ = (UniqueConstraint("user_id", "thread_name", name="uq_threads_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    thread_name: Mapped[str] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Message(Base):
    """One message of a thread, unique by the client's ``message_id`` within the thread."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("thread_id", "message_id", name="uq_messages_thread_message"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(200))
    sender_name: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    content: Mapped[str] = mapped_column(Text)
    thread_version: Mapped[int] = mapped_column(Integer)


class Draft(Base):
    """A drafted reply to a thread; its text is the latest revision."""

    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    thread_version: Mapped[int] = mapped_column(Integer)
    origin_job_id: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Revision(Base):
    """One version of a draft's text with its provenance; never changed once written."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("draft_id", "number", name="uq_revisions_draft_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str] = mapped_column(String(36), unique=True)
    content: Mapped[str] = mapped_column(Text)
    feedback: Mapped[str | None] = mapped_column(Text, nullable=True)
    provider: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    prompt_version: Mapped[str] = mapped_column(String(50))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="ready", server_default="ready")
    finish_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Job(Base):
    """A unit of background work: draft a thread, or revise a draft from feedback."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    thread_version: Mapped[int] = mapped_column(Integer)
    draft_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    feedback: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    unqueued_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Set when the queue could not take the job after it was stored; the relay hands it over
    and clears it (see :mod:`draft_service.relay`)."""

    __table_args__ = (
        Index(
            "ix_jobs_unqueued_since",
            "unqueued_since",
            postgresql_where=text("unqueued_since IS NOT NULL"),
            sqlite_where=text("unqueued_since IS NOT NULL"),
        ),
    )


class Profile(Base):
    """How a user signs their replies: the writer the prompt describes."""

    __tablename__ = "user_profiles"

    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200), nullable=True)
    signature: Mapped[str | None] = mapped_column(Text, nullable=True)
    tone: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
