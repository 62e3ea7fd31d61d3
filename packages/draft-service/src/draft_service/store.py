"""Database operations of the service: one method per transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from draft_service.db.schema import Draft, Job, Message, Revision, Thread, utcnow
from draft_service.errors import DraftNotFoundError, JobNotFoundError
from draft_service.models import SendMessagesRequest

__all__ = ["JobContext", "SendResult", "Store"]


@dataclass(frozen=True, slots=True)
class SendResult:
    """What storing a batch of messages did."""

    job_id: str
    thread_id: int
    new_messages: Sequence[Message]


@dataclass(frozen=True, slots=True)
class JobContext:
    """Everything a job needs to call the LLM, read in one transaction."""

    job: Job
    thread: Thread
    messages: Sequence[Message]
    draft: Draft | None
    current_text: str | None


def _new_id() -> str:
    return str(uuid.uuid4())


class Store:
    """The service's persistence, over an async session factory.

    Args:
        sessions: Where sessions come from (see :func:`draft_service.db.session_factory`).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _thread(self, s: AsyncSession, user_id: str, thread_name: str) -> Thread:
        query = select(Thread).where(Thread.user_id == user_id, Thread.thread_name == thread_name)
        thread = (await s.execute(query.with_for_update())).scalar_one_or_none()
        if thread is None:
            thread = Thread(user_id=user_id, thread_name=thread_name, version=0)
            s.add(thread)
            await s.flush()
        return thread

    async def add_messages(self, req: SendMessagesRequest) -> SendResult:
        """Store the messages not seen before and queue a draft job for the thread.

        A batch with only known message ids changes nothing and returns the thread's latest
        draft job. Otherwise the thread's version grows, its open draft is superseded and a new
        job drafts the new version.
        """
        for attempt in (1, 2):
            try:
                return await self._add_messages(req)
            except IntegrityError:
                # Two first sends of the same thread raced on its unique name; the second
                # attempt finds the thread the winner created.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _add_messages(self, req: SendMessagesRequest) -> SendResult:
        async with self._sessions.begin() as s:
            thread = await self._thread(s, req.user_id, req.thread_name)
            ids = [m.message_id for m in req.messages]
            known_q = select(Message.message_id).where(
                Message.thread_id == thread.id, Message.message_id.in_(ids)
            )
            known = set((await s.execute(known_q)).scalars())
            fresh = {m.message_id: m for m in req.messages if m.message_id not in known}
            if not fresh:
                latest = await s.execute(
                    select(Job.id)
                    .where(Job.thread_id == thread.id, Job.kind == "draft")
                    .order_by(Job.created_at.desc(), Job.thread_version.desc())
                    .limit(1)
                )
                job_id = latest.scalar_one_or_none()
                if job_id is not None:
                    return SendResult(job_id, thread.id, [])
            else:
                thread.version += 1
            if fresh and thread.version > 1:
                await s.execute(
                    update(Draft)
                    .where(Draft.thread_id == thread.id, Draft.status == "open")
                    .values(status="superseded", updated_at=utcnow())
                )
            rows = [
                Message(
                    thread_id=thread.id,
                    message_id=m.message_id,
                    sender_name=m.sender_name,
                    sent_at=datetime.combine(m.date, m.time),
                    content=m.message_content,
                    thread_version=thread.version,
                )
                for m in fresh.values()
            ]
            s.add_all(rows)
            job = Job(
                id=_new_id(),
                kind="draft",
                user_id=req.user_id,
                thread_id=thread.id,
                thread_version=thread.version,
                status="queued",
                attempts=0,
            )
            s.add(job)
            await s.flush()
            return SendResult(job.id, thread.id, rows)

    async def add_feedback_job(self, user_id: str, draft_id: str, feedback: str) -> str:
        """Queue a job that revises ``draft_id`` from ``feedback``.

        Raises:
            DraftNotFoundError: the user has no such draft.
        """
        async with self._sessions.begin() as s:
            draft = await s.get(Draft, draft_id)
            if draft is None or draft.user_id != user_id:
                raise DraftNotFoundError(draft_id)
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

    async def reject(self, user_id: str, draft_id: str) -> None:
        """Mark the draft rejected; rejecting again changes nothing.

        Raises:
            DraftNotFoundError: the user has no such draft.
        """
        async with self._sessions.begin() as s:
            draft = await s.get(Draft, draft_id)
            if draft is None or draft.user_id != user_id:
                raise DraftNotFoundError(draft_id)
            if draft.status != "rejected":
                draft.status = "rejected"
                draft.updated_at = utcnow()

    async def current_drafts(self, user_id: str) -> list[tuple[str, str, str]]:
        """The user's open drafts as ``(thread_name, draft_id, latest text)``, oldest first."""
        latest = (
            select(Revision.draft_id, func.max(Revision.number).label("n"))
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

    async def start_job(self, job_id: str) -> JobContext | None:
        """Mark a job running and read what it needs; None when it already finished.

        Raises:
            JobNotFoundError: no such job.
        """
        async with self._sessions.begin() as s:
            job = await s.get(Job, job_id, with_for_update=True)
            if job is None:
                raise JobNotFoundError(job_id)
            if job.status in ("done", "failed", "discarded"):
                return None
            job.status = "running"
            job.attempts += 1
            job.updated_at = utcnow()
            thread = await s.get(Thread, job.thread_id)
            assert thread is not None
            msgs = await s.execute(
                select(Message)
                .where(Message.thread_id == thread.id)
                .order_by(Message.sent_at, Message.id)
            )
            draft = await s.get(Draft, job.draft_id) if job.draft_id else None
            text = None
            if draft is not None:
                text = (
                    await s.execute(
                        select(Revision.content)
                        .where(Revision.draft_id == draft.id)
                        .order_by(Revision.number.desc())
                        .limit(1)
                    )
                ).scalar_one_or_none()
            return JobContext(job, thread, list(msgs.scalars()), draft, text)

    async def note_attempt(self, job_id: str, error: str) -> None:
        """Record one more LLM attempt and its error while the job keeps retrying."""
        async with self._sessions.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(attempts=Job.attempts + 1, error=error, updated_at=utcnow())
            )

    async def finish_job(self, job_id: str, status: str, error: str | None = None) -> None:
        """Set a job's final status (``failed`` or ``discarded``) and error."""
        async with self._sessions.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.not_in(("done",)))
                .values(status=status, error=error, updated_at=utcnow())
            )

    async def save_result(
        self,
        job_id: str,
        *,
        content: str,
        provider: str,
        model: str,
        prompt_version: str,
        prompt_tokens: int | None,
        completion_tokens: int | None,
    ) -> tuple[str, str | None]:
        """Save a job's text as a new draft or revision, unless the thread moved on.

        Re-reads the thread under a row lock: if newer messages arrived since the job was
        queued, nothing is saved and the job is discarded as stale. A redelivered job whose
        result is already saved changes nothing.

        Returns:
            ``("done", draft_id)`` or ``("discarded", reason)``.
        """
        try:
            return await self._save_result(
                job_id,
                content=content,
                provider=provider,
                model=model,
                prompt_version=prompt_version,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        except IntegrityError:
            # Another delivery of this job saved first (unique job ids on drafts/revisions).
            job = await self.job(job_id)
            return "done", job.draft_id

    async def _save_result(
        self,
        job_id: str,
        *,
        content: str,
        provider: str,
        model: str,
        prompt_version: str,
        prompt_tokens: int | None,
        completion_tokens: int | None,
    ) -> tuple[str, str | None]:
        from draft_service.errors import StaleDraftError

        async with self._sessions.begin() as s:
            job = await s.get(Job, job_id, with_for_update=True)
            if job is None:
                raise JobNotFoundError(job_id)
            if job.status == "done":
                return "done", job.draft_id
            thread = await s.get(Thread, job.thread_id, with_for_update=True)
            assert thread is not None
            now = utcnow()
            if thread.version != job.thread_version:
                reason = str(StaleDraftError(job.thread_version, thread.version))
                job.status, job.error, job.updated_at = "discarded", reason, now
                return "discarded", reason
            if job.kind == "draft":
                draft = Draft(
                    id=_new_id(),
                    thread_id=thread.id,
                    user_id=job.user_id,
                    status="open",
                    thread_version=job.thread_version,
                    origin_job_id=job.id,
                    created_at=now,
                    updated_at=now,
                )
                s.add(draft)
                await s.flush()
                number, feedback = 1, None
            else:
                found = await s.get(Draft, job.draft_id, with_for_update=True)
                assert found is not None
                draft = found
                if draft.status != "open":
                    reason = (
                        f"discarded: the draft was {draft.status} before the revision was ready"
                    )
                    job.status, job.error, job.updated_at = "discarded", reason, now
                    return "discarded", reason
                top = await s.execute(
                    select(func.max(Revision.number)).where(Revision.draft_id == draft.id)
                )
                number, feedback = (top.scalar_one_or_none() or 0) + 1, job.feedback
                draft.updated_at = now
            s.add(
                Revision(
                    draft_id=draft.id,
                    number=number,
                    job_id=job.id,
                    content=content,
                    feedback=feedback,
                    provider=provider,
                    model=model,
                    prompt_version=prompt_version,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    created_at=now,
                )
            )
            job.status, job.error, job.draft_id, job.updated_at = "done", None, draft.id, now
            return "done", draft.id
