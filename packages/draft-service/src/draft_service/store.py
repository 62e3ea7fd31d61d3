"""Database operations of the service: one method per transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from draft_service.db import intake, jobs
from draft_service.db.held import HeldConnections
from draft_service.db.intake import SendResult
from draft_service.db.jobs import Provenance, Saved
from draft_service.db.records import JobContext
from draft_service.db.schema import Draft, Job, Message, Profile, Revision, Thread, utcnow
from draft_service.errors import (
    DraftClosedError,
    DraftNotFoundError,
    JobNotFoundError,
    JobNotRetryableError,
    StaleDraftError,
)
from draft_service.models import SendMessagesRequest
from draft_service.queue import QUEUE_ERRORS

__all__ = ["JobContext", "Saved", "SendResult", "Store"]


_WANTED = (
    select(Job.kind, Job.thread_version, Thread.version, Draft.status)
    .select_from(Job)
    .outerjoin(Thread, Thread.id == Job.thread_id)
    .outerjoin(Draft, Draft.id == Job.draft_id)
    .where(Job.id == bindparam("j_id"))
)


_PROFILE = select(*Profile.__table__.columns).where(Profile.user_id == bindparam("u_id"))


SEND_CONNECTIONS = 8
"""Connections the sends keep checked out between requests on PostgreSQL (see
:class:`draft_service.db.held.HeldConnections`), of the pool's
:data:`draft_service.db.engine.POOL_MAX`."""


def _new_id() -> str:
    return str(uuid.uuid4())


class Store:
    """The service's persistence, over an async session factory.

    Args:
        sessions: Where sessions come from (see :func:`draft_service.db.session_factory`).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        engine = sessions.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("Store needs a session factory bound to an AsyncEngine")
        self._engine = engine
        self._known_threads = intake.KnownThreads()
        # PostgreSQL: the sends keep a few connections (SQLite opens its file cheaply).
        keep = SEND_CONNECTIONS if engine.dialect.name == "postgresql" else 0
        self._send_connections = HeldConnections(engine, keep=keep)

    async def add_messages(self, req: SendMessagesRequest) -> SendResult:
        """Store the messages not seen before and queue a draft job for the thread.

        See :func:`draft_service.db.intake.add_messages`.
        """
        return await intake.add_messages(
            self._engine, req, self._known_threads, self._send_connections
        )

    async def close(self) -> None:
        """Return the connections the sends keep to the pool (before disposing of it)."""
        await self._send_connections.close()

    async def add_feedback_job(self, user_id: str, draft_id: str, feedback: str) -> str:
        """Queue a job that revises ``draft_id`` from ``feedback``.

        Raises:
            DraftNotFoundError: the user has no such draft.
            DraftClosedError: the draft is rejected or superseded.
        """
        async with self._sessions.begin() as s:
            draft = await s.get(Draft, draft_id, with_for_update=True)
            if draft is None or draft.user_id != user_id:
                raise DraftNotFoundError(draft_id)
            if draft.status != "open":
                raise DraftClosedError(draft_id, draft.status)
            job = Job(
                id=_new_id(),
                kind="feedback",
                user_id=user_id,
                thread_id=draft.thread_id,
                thread_version=draft.thread_version,
                draft_id=draft.id,
                feedback=feedback,
                status="queued",
                attempts=0,
            )
            s.add(job)
            return job.id

    async def reject(self, user_id: str, draft_id: str) -> bool:
        """Mark the draft rejected; rejecting again changes nothing.

        Returns:
            Whether the draft was rejected just now.

        Raises:
            DraftNotFoundError: the user has no such draft.
        """
        async with self._sessions.begin() as s:
            draft = await s.get(Draft, draft_id)
            if draft is None or draft.user_id != user_id:
                raise DraftNotFoundError(draft_id)
            if draft.status == "rejected":
                return False
            draft.status = "rejected"
            draft.updated_at = utcnow()
            return True

    async def mark_sent(self, user_id: str, draft_id: str) -> bool:
        """Mark an open draft sent: it leaves the list and is not revised any more.

        Returns:
            Whether the draft was marked sent just now (False when it already was).

        Raises:
            DraftNotFoundError: the user has no such draft.
            DraftClosedError: the draft is rejected or superseded.
        """
        async with self._sessions.begin() as s:
            draft = await s.get(Draft, draft_id, with_for_update=True)
            if draft is None or draft.user_id != user_id:
                raise DraftNotFoundError(draft_id)
            if draft.status == "sent":
                return False
            if draft.status != "open":
                raise DraftClosedError(draft_id, draft.status)
            draft.status = "sent"
            draft.updated_at = utcnow()
            return True

    async def current_drafts(self, user_id: str) -> list[tuple[str, str, str]]:
        """The user's open drafts as ``(thread_name, draft_id, text)``, oldest first.

        The text is the latest ``ready`` revision; a draft with only truncated revisions is not
        offered.
        """
        latest = (
            select(Revision.draft_id, func.max(Revision.number).label("n"))
            .where(Revision.status == "ready")
            .group_by(Revision.draft_id)
            .subquery()
        )
        query = (
            select(Thread.thread_name, Draft.id, Revision.content)
            .join(Thread, Thread.id == Draft.thread_id)
            .join(latest, latest.c.draft_id == Draft.id)
            .join(Revision, (Revision.draft_id == Draft.id) & (Revision.number == latest.c.n))
            .where(Draft.user_id == user_id, Draft.status == "open")
            .order_by(Draft.created_at, Draft.id)
        )
        async with self._sessions() as s:
            return [(r[0], r[1], r[2]) for r in (await s.execute(query)).all()]

    async def draft(self, user_id: str, draft_id: str) -> tuple[Draft, str, list[Revision]]:
        """A draft, its thread's name and its revisions, oldest first.

        Raises:
            DraftNotFoundError: the user has no such draft.
        """
        async with self._sessions() as s:
            draft = await s.get(Draft, draft_id)
            if draft is None or draft.user_id != user_id:
                raise DraftNotFoundError(draft_id)
            thread = await s.get(Thread, draft.thread_id)
            revs = await s.execute(
                select(Revision).where(Revision.draft_id == draft_id).order_by(Revision.number)
            )
            return draft, thread.thread_name if thread else "", list(revs.scalars())

    async def unfinished_jobs(self) -> list[str]:
        """Ids of the jobs still ``queued`` or ``running``, oldest first."""
        query = select(Job.id).where(Job.status.in_(("queued", "running"))).order_by(Job.created_at)
        async with self._sessions() as s:
            return list((await s.execute(query)).scalars())

    async def mark_unqueued(self, job_id: str, reason: str) -> None:
        """Record that the queue did not take a stored job: the relay hands it over later.

        The job stays ``queued``; its ``error`` says what it waits for.
        """
        now = utcnow()
        async with self._sessions.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "queued")
                .values(
                    unqueued_since=now, error=f"waiting for the job queue: {reason}", updated_at=now
                )
            )

    async def hand_over_unqueued(
        self, enqueue: Callable[[str], Awaitable[None]], limit: int = 200
    ) -> tuple[int, Exception | None]:
        """Give the queue the oldest jobs it did not take, clearing their mark as it takes each.

        The jobs are row-locked (``SKIP LOCKED``: relays of other processes take other jobs).
        A job no longer ``queued`` is only unmarked. Returns how many the queue took and, when
        it failed part-way, its error (the rest keep their mark for the next round); other
        errors propagate.
        """
        query = (
            select(Job.id, Job.status)
            .where(Job.unqueued_since.is_not(None))
            .order_by(Job.unqueued_since)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        taken: list[str] = []
        moved_on: list[str] = []
        failure: Exception | None = None
        async with self._sessions.begin() as s:
            for job_id, status in (await s.execute(query)).all():
                if status != "queued":
                    moved_on.append(job_id)
                    continue
                try:
                    await enqueue(job_id)
                except QUEUE_ERRORS as exc:  # returned to the relay, which logs it
                    failure = exc
                    break
                taken.append(job_id)
            now = utcnow()
            if taken:
                await s.execute(
                    update(Job)
                    .where(Job.id.in_(taken))
                    .values(unqueued_since=None, error=None, updated_at=now)
                )
            if moved_on:
                await s.execute(update(Job).where(Job.id.in_(moved_on)).values(unqueued_since=None))
        return len(taken), failure

    async def retry_job(self, job_id: str, user_id: str) -> Job:
        """Queue a failed job again (attempts start over).

        Raises:
            JobNotFoundError: the user has no such job.
            JobNotRetryableError: it did not fail, its thread has newer messages, or its draft
                is no longer open.
        """
        async with self._sessions.begin() as s:
            job = await s.get(Job, job_id, with_for_update=True)
            if job is None or job.user_id != user_id:
                raise JobNotFoundError(job_id)
            if job.status != "failed":
                raise JobNotRetryableError(
                    f"job {job_id!r} is {job.status}; only a failed job can be retried"
                )
            thread = await s.get(Thread, job.thread_id)
            if thread is not None and thread.version != job.thread_version:
                raise JobNotRetryableError(
                    f"job {job_id!r} drafted thread version {job.thread_version}, but newer "
                    "messages arrived since; the job of the newest messages drafts instead"
                )
            if job.draft_id is not None and job.kind == "feedback":
                draft = await s.get(Draft, job.draft_id)
                if draft is not None and draft.status != "open":
                    raise JobNotRetryableError(
                        f"job {job_id!r} revises draft {job.draft_id!r}, which is {draft.status}"
                    )
            job.status, job.attempts, job.error, job.updated_at = "queued", 0, None, utcnow()
            return job

    async def still_wanted(self, job_id: str) -> str | None:
        """Why a running job's result would be discarded now, or ``None`` while it is wanted.

        One statement: the job's version against its thread's, and its draft's status.
        """
        async with self._engine.connect() as conn:
            row = (await conn.execute(_WANTED, {"j_id": job_id})).one_or_none()
        if row is None:
            return "the job is gone"
        kind, job_version, thread_version, draft_status = row
        if thread_version is not None and thread_version != job_version:
            return str(StaleDraftError(job_version, thread_version))
        if kind == "feedback" and draft_status != "open":
            status = draft_status or "deleted"
            return f"discarded: the draft was {status} before the revision was ready"
        return None

    async def profile(self, user_id: str) -> Row[Any] | None:
        """The user's writer profile (a row with the profile's columns), if they set one."""
        async with self._engine.connect() as conn:
            return (await conn.execute(_PROFILE, {"u_id": user_id})).one_or_none()

    async def put_profile(self, user_id: str, values: Mapping[str, str | None]) -> Profile:
        """Create or replace the user's writer profile."""
        async with self._sessions.begin() as s:
            profile = await s.get(Profile, user_id, with_for_update=True)
            if profile is None:
                profile = Profile(user_id=user_id, **values, updated_at=utcnow())
                s.add(profile)
            else:
                for key, value in values.items():
                    setattr(profile, key, value)
                profile.updated_at = utcnow()
            return profile

    async def senders_by_thread(self, user_id: str, thread_id: int) -> dict[str, set[str]]:
        """The sender names of each of the user's other threads, by thread name."""
        query = (
            select(Thread.thread_name, Message.sender_name)
            .join(Message, Message.thread_id == Thread.id)
            .where(Thread.user_id == user_id, Thread.id != thread_id)
            .distinct()
        )
        found: dict[str, set[str]] = {}
        async with self._sessions() as s:
            for name, sender in (await s.execute(query)).all():
                found.setdefault(name, set()).add(sender)
        return found

    async def job(self, job_id: str, user_id: str | None = None) -> Job:
        """A job by id, optionally only if it belongs to ``user_id``.

        Raises:
            JobNotFoundError: no such job (for this user).
        """
        async with self._sessions() as s:
            job = await s.get(Job, job_id)
            if job is None or (user_id is not None and job.user_id != user_id):
                raise JobNotFoundError(job_id)
            return job

    async def start_job(
        self, job_id: str, indexed: Callable[[str], Mapping[int, int]] | None = None
    ) -> JobContext | None:
        """Mark a job running and read what it needs; None when it already finished.

        See :func:`draft_service.db.jobs.start_job` (``indexed``: a process-local archive's
        thread versions, to read the user's threads it lacks in the same transaction).

        Raises:
            JobNotFoundError: no such job.
        """
        return await jobs.start_job(self._engine, job_id, indexed)

    async def note_attempt(self, job_id: str, error: str) -> None:
        """Record one more LLM attempt and its error while the job keeps retrying."""
        async with self._sessions.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(attempts=Job.attempts + 1, error=error, updated_at=utcnow())
            )

    async def note_failure(self, job_id: str, error: str) -> None:
        """Record the error of a delivery that failed outside the LLM call (it is retried)."""
        async with self._sessions.begin() as s:
            await s.execute(
                update(Job).where(Job.id == job_id).values(error=error, updated_at=utcnow())
            )

    async def finish_job(self, job_id: str, status: str, error: str | None = None) -> None:
        """Set a job's final status (``failed`` or ``discarded``) and error."""
        async with self._sessions.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.not_in(("done",)))
                .values(status=status, error=error, updated_at=utcnow())
            )

    async def save_result(self, job_id: str, revision: Provenance) -> Saved:
        """Save a job's text as a new draft or revision, unless the thread moved on.

        Re-reads the thread under a row lock: if newer messages arrived since the job was
        queued, nothing is saved and the job is discarded as stale. A redelivered job whose
        result is already saved changes nothing. See :func:`draft_service.db.jobs.save_result`.

        Args:
            job_id: The job.
            revision: The revision's columns: content, provider, model, prompt_version,
                prompt_tokens, completion_tokens, status, finish_reason, provenance.
        """
        try:
            return await jobs.save_result(self._engine, job_id, revision)
        except IntegrityError:
            # Another delivery of this job saved first (unique job ids on drafts/revisions).
            job = await self.job(job_id)
            return Saved(job.status, job.draft_id)

    async def give_up(self, job_id: str, deliveries: int, error: str) -> bool:
        """Fail a job the queue gave up on after ``deliveries`` deliveries.

        The job's error names the deliveries and the last error it recorded, else ``error``
        (the queue's own account, e.g. a worker that crashed each time). A job that already
        ended is left as it is.

        Returns:
            Whether the job was failed.
        """
        head = f"failed after {deliveries} deliveries: "
        return await jobs.give_up(self._engine, job_id, head, error)
