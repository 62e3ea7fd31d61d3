"""What the inbox pages read: a user's threads with their status, and one thread in full.

Read-only queries on the service's tables, always filtered by the user; every change goes
through :class:`~draft_service.DraftService`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from draft_service.db.schema import Draft, Job, Message, Revision, Thread

__all__ = [
    "JobRow",
    "MessageRow",
    "ThreadPage",
    "ThreadRow",
    "ThreadStatus",
    "draft_thread",
    "job_thread",
    "recent_users",
    "thread_page",
    "threads",
]

ThreadStatus = Literal["drafting", "ready", "failed", "rejected", "sent", "new"]
"""What a thread waits for: a draft being written, a ready draft, a failed job to retry, a
rejected or sent draft, or nothing drafted yet."""

_RUNNING = ("queued", "running")
_FAILED = ("failed", "truncated")


@dataclass(frozen=True, slots=True)
class JobRow:
    """A thread's latest job."""

    id: str
    kind: str
    status: str
    error: str | None
    attempts: int
    draft_id: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ThreadRow:
    """One line of the threads list."""

    id: int
    name: str
    status: ThreadStatus
    last_sender: str | None
    last_text: str | None
    messages: int
    active_at: datetime


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One message of a thread."""

    message_id: str
    sender: str
    sent_at: datetime
    content: str


@dataclass(frozen=True, slots=True)
class ThreadPage:
    """A thread with its messages, latest job, latest draft and that draft's revisions."""

    id: int
    name: str
    status: ThreadStatus
    messages: list[MessageRow]
    job: JobRow | None
    draft: Draft | None
    revisions: list[Revision]


def _status(job: JobRow | None, draft_status: str | None, has_ready: bool) -> ThreadStatus:
    if job is not None and job.status in _RUNNING:
        return "drafting"
    if job is not None and job.status in _FAILED:
        return "failed"
    if draft_status == "open":
        return "ready" if has_ready else "failed"
    if draft_status in ("rejected", "sent"):
        return draft_status  # type: ignore[return-value]
    return "new"


def _job(job: Job | None) -> JobRow | None:
    if job is None:
        return None
    return JobRow(
        job.id, job.kind, job.status, job.error, job.attempts, job.draft_id, job.updated_at
    )


async def threads(engine: AsyncEngine, user_id: str, limit: int = 200) -> list[ThreadRow]:
    """The user's threads, the most recently active first (at most ``limit``)."""
    latest_job = (
        select(Job.thread_id, func.max(Job.created_at).label("at"))
        .where(Job.user_id == user_id)
        .group_by(Job.thread_id)
        .subquery()
    )
    query = (
        select(Thread, Job)
        .outerjoin(latest_job, latest_job.c.thread_id == Thread.id)
        .outerjoin(Job, (Job.thread_id == Thread.id) & (Job.created_at == latest_job.c.at))
        .where(Thread.user_id == user_id)
        .order_by(func.coalesce(latest_job.c.at, Thread.created_at).desc(), Thread.id.desc())
        .limit(limit)
    )
    async with AsyncSession(engine) as session:
        rows = (await session.execute(query)).all()
        ids = [thread.id for thread, _ in rows]
        if not ids:
            return []
        drafts = await _latest_drafts(session, ids)
        last = await _last_messages(session, ids)
    found: list[ThreadRow] = []
    seen: set[int] = set()
    for thread, job in rows:
        if thread.id in seen:  # two jobs created in the same instant
            continue
        seen.add(thread.id)
        draft_status, has_ready = drafts.get(thread.id, (None, False))
        sender, text, count = last.get(thread.id, (None, None, 0))
        job_row = _job(job)
        found.append(
            ThreadRow(
                id=thread.id,
                name=thread.thread_name,
                status=_status(job_row, draft_status, has_ready),
                last_sender=sender,
                last_text=text,
                messages=count,
                active_at=job.created_at if job is not None else thread.created_at,
            )
        )
    return found


async def _latest_drafts(session: AsyncSession, ids: list[int]) -> dict[int, tuple[str, bool]]:
    ready = (
        select(Revision.draft_id)
        .where(Revision.status == "ready", Revision.draft_id == Draft.id)
        .exists()
    )
    query = (
        select(Draft.thread_id, Draft.status, ready)
        .where(Draft.thread_id.in_(ids))
        .order_by(Draft.created_at, Draft.id)
    )
    latest: dict[int, tuple[str, bool]] = {}
    for thread_id, status, has_ready in (await session.execute(query)).all():
        latest[thread_id] = (status, bool(has_ready))  # later drafts overwrite earlier ones
    return latest


async def _last_messages(session: AsyncSession, ids: list[int]) -> dict[int, tuple[str, str, int]]:
    last = (
        select(Message.thread_id, func.max(Message.id).label("m"), func.count().label("n"))
        .where(Message.thread_id.in_(ids))
        .group_by(Message.thread_id)
        .subquery()
    )
    query = select(Message.thread_id, Message.sender_name, Message.content, last.c.n).join(
        last, last.c.m == Message.id
    )
    return {t: (s, c, n) for t, s, c, n in (await session.execute(query)).all()}


async def thread_page(engine: AsyncEngine, user_id: str, thread_id: int) -> ThreadPage | None:
    """The thread ``thread_id`` of ``user_id``; None when the user has no such thread."""
    async with AsyncSession(engine) as session:
        thread = await session.get(Thread, thread_id)
        if thread is None or thread.user_id != user_id:
            return None
        messages = (
            await session.execute(
                select(Message).where(Message.thread_id == thread_id).order_by(Message.id)
            )
        ).scalars()
        job = (
            await session.execute(
                select(Job)
                .where(Job.thread_id == thread_id)
                .order_by(Job.created_at.desc(), Job.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        draft = (
            await session.execute(
                select(Draft)
                .where(Draft.thread_id == thread_id)
                .order_by(Draft.created_at.desc(), Draft.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        revisions: list[Revision] = []
        if draft is not None:
            revisions = list(
                (
                    await session.execute(
                        select(Revision)
                        .where(Revision.draft_id == draft.id)
                        .order_by(Revision.number)
                    )
                ).scalars()
            )
        rows = [MessageRow(m.message_id, m.sender_name, m.sent_at, m.content) for m in messages]
        job_row = _job(job)
        has_ready = any(r.status == "ready" for r in revisions)
        status = _status(job_row, draft.status if draft else None, has_ready)
        session.expunge_all()
    return ThreadPage(thread.id, thread.thread_name, status, rows, job_row, draft, revisions)


async def recent_users(engine: AsyncEngine, limit: int = 50) -> list[tuple[str, int]]:
    """User ids with threads and how many, the user with the newest thread first."""
    query = (
        select(Thread.user_id, func.count(Thread.id), func.max(Thread.created_at))
        .group_by(Thread.user_id)
        .order_by(func.max(Thread.created_at).desc())
        .limit(limit)
    )
    async with engine.connect() as conn:
        return [(user, count) for user, count, _ in (await conn.execute(query)).all()]


async def draft_thread(engine: AsyncEngine, user_id: str, draft_id: str) -> int | None:
    """The thread id of the user's draft ``draft_id``; None when the user has no such draft."""
    query = select(Draft.thread_id).where(Draft.id == draft_id, Draft.user_id == user_id)
    async with engine.connect() as conn:
        return (await conn.execute(query)).scalar_one_or_none()


async def job_thread(engine: AsyncEngine, user_id: str, job_id: str) -> int | None:
    """The thread id of the user's job ``job_id``; None when the user has no such job."""
    query = select(Job.thread_id).where(Job.id == job_id, Job.user_id == user_id)
    async with engine.connect() as conn:
        return (await conn.execute(query)).scalar_one_or_none()
