"""The transactions of a running job: start it (reading what it needs), save its result, fail it.

A job costs two writes whatever happens in between: one that marks it running and reads
the thread (and, for a process-local archive, the user's other threads it has not indexed
yet), and one transaction that saves the result under the job's and thread's row locks. Both
run cached Core statements on one connection, so each statement is one round trip and no ORM
unit of work is built per job. On PostgreSQL the start is one statement that marks the job
running and reads its thread, committed on its own (SQLite: a transaction of two).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Table, Text, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from draft_service.db.records import (
    EarlierThread,
    JobContext,
    RunningJob,
    StoredMessage,
    ThreadState,
)
from draft_service.db.schema import Draft, Job, Message, Revision, Thread, utcnow
from draft_service.errors import JobNotFoundError, StaleDraftError

__all__ = ["Provenance", "Saved", "give_up", "save_result", "start_job"]

_threads: Table = Thread.__table__  # type: ignore[assignment]
_messages: Table = Message.__table__  # type: ignore[assignment]
_drafts: Table = Draft.__table__  # type: ignore[assignment]
_revisions: Table = Revision.__table__  # type: ignore[assignment]
_jobs: Table = Job.__table__  # type: ignore[assignment]

_FINAL = ("done", "truncated", "failed", "discarded")
Provenance = dict[str, Any]
"""The revision's content and provenance columns: content, provider, model, prompt_version,
prompt_tokens, completion_tokens, status, finish_reason, provenance."""

_j = _jobs.c
_START = (
    update(_jobs)
    .where(_j.id == bindparam("j_id"), _j.status.not_in(_FINAL))
    .values(status="running", attempts=_j.attempts + 1, updated_at=bindparam("now"))
    .returning(_j.kind, _j.user_id, _j.thread_id, _j.thread_version, _j.draft_id, _j.feedback)
)
_STATUS = select(_j.status).where(_j.id == bindparam("j_id"))
_m = _messages.c
# The thread and its messages in one statement: one snapshot, so the version read is the one
# the messages belong to (a thread's version and its new messages commit together).
_THREAD = (
    select(
        _threads.c.user_id,
        _threads.c.thread_name,
        _threads.c.version,
        _m.message_id,
        _m.sender_name,
        _m.sent_at,
        _m.content,
    )
    .select_from(_threads.outerjoin(_messages, _m.thread_id == _threads.c.id))
    .where(_threads.c.id == bindparam("t_id"))
    .order_by(_m.sent_at, _m.id)
)
# PostgreSQL: the job marked running and its thread with the messages, in one statement
# committed on its own (one round trip instead of BEGIN, two statements and COMMIT). The
# thread is read in the statement's snapshot, so its version and messages still agree.
_started = _START.cte("started")
_START_WITH_THREAD = (
    select(
        *_started.c,
        _threads.c.user_id.label("thread_user_id"),
        _threads.c.thread_name,
        _threads.c.version,
        _m.message_id,
        _m.sender_name,
        _m.sent_at,
        _m.content,
    )
    .select_from(
        _started.join(_threads, _threads.c.id == _started.c.thread_id).outerjoin(
            _messages, _m.thread_id == _threads.c.id
        )
    )
    .order_by(_m.sent_at, _m.id)
)
_LATEST_TEXT = (
    select(_drafts.c.status, _revisions.c.content, _revisions.c.id)
    .select_from(_drafts.outerjoin(_revisions, _revisions.c.draft_id == _drafts.c.id))
    .where(_drafts.c.id == bindparam("d_id"))
    .order_by(_revisions.c.number.desc())
    .limit(1)
)
_USER_THREADS = select(_threads.c.id, _threads.c.thread_name, _threads.c.version).where(
    _threads.c.user_id == bindparam("u_id"), _threads.c.id != bindparam("t_id")
)
_MESSAGES_OF = (
    select(_m.thread_id, _m.message_id, _m.sender_name, _m.sent_at, _m.content)
    .where(_m.thread_id.in_(bindparam("t_ids", expanding=True)))
    .order_by(_m.thread_id, _m.sent_at, _m.id)
)
# Locks the job and its thread together (PostgreSQL locks the rows of both tables; SQLite's
# BEGIN IMMEDIATE already holds the database's write lock).
_LOCK = (
    select(_j.status, _j.kind, _j.user_id, _j.thread_version, _j.draft_id, _j.feedback)
    .add_columns(_threads.c.id, _threads.c.version)
    .select_from(_jobs.join(_threads, _threads.c.id == _j.thread_id))
    .where(_j.id == bindparam("j_id"))
    .with_for_update()
)
_DRAFT_TOP = (
    select(
        _drafts.c.status,
        select(func.max(_revisions.c.number))
        .where(_revisions.c.draft_id == _drafts.c.id)
        .scalar_subquery(),
    )
    .where(_drafts.c.id == bindparam("d_id"))
    .with_for_update()
)
_INSERT_DRAFT = insert(_drafts)
_INSERT_REVISION = insert(_revisions)
_SUPERSEDE_OTHERS = (
    update(_drafts)
    .where(
        _drafts.c.thread_id == bindparam("t_id"),
        _drafts.c.status == "open",
        _drafts.c.id != bindparam("d_id"),
    )
    .values(status="superseded", updated_at=bindparam("now"))
    .returning(_drafts.c.id)
)
_TOUCH_DRAFT = (
    update(_drafts).where(_drafts.c.id == bindparam("d_id")).values(updated_at=bindparam("now"))
)
_END = (
    update(_jobs)
    .where(_j.id == bindparam("j_id"))
    .values(
        status=bindparam("to"),
        error=bindparam("why"),
        draft_id=func.coalesce(bindparam("d_id"), _j.draft_id),
        updated_at=bindparam("now"),
    )
)
# The error the job recorded last (a failed attempt) says more than the backend's summary.
_GIVE_UP = (
    update(_jobs)
    .where(_j.id == bindparam("j_id"), _j.status.in_(("queued", "running")))
    .values(
        status="failed",
        error=bindparam("head", type_=Text) + func.coalesce(_j.error, bindparam("fallback")),
        updated_at=bindparam("now"),
    )
)


async def start_job(
    engine: AsyncEngine,
    job_id: str,
    indexed: Callable[[str], Mapping[int, int]] | None = None,
) -> JobContext | None:
    """Mark a job running and read what it needs; ``None`` when it already finished.

    Args:
        engine: The database.
        job_id: The job.
        indexed: For a process-local archive: the versions of the user's threads it holds
            (thread id to version). The user's other threads at another version come back
            in :attr:`JobContext.earlier`, with their messages.

    Raises:
        JobNotFoundError: no such job.
    """
    if engine.dialect.name == "postgresql":
        # Each statement commits on its own: the job is running from the first; what is read
        # after it needs no common snapshot (a thread newer than the job is found stale).
        async with engine.connect() as plain:
            conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
            return await _start_job(conn, job_id, indexed, combined=True)
    async with engine.begin() as conn:
        return await _start_job(conn, job_id, indexed, combined=False)


async def _start_job(
    conn: AsyncConnection,
    job_id: str,
    indexed: Callable[[str], Mapping[int, int]] | None,
    *,
    combined: bool,
) -> JobContext | None:
    params = {"j_id": job_id, "now": utcnow()}
    rows: list[Row[Any]] = []
    if combined:
        rows = list((await conn.execute(_START_WITH_THREAD, params)).all())
        head = rows[0] if rows else None
    else:
        head = (await conn.execute(_START, params)).one_or_none()
    if head is None:
        if (await conn.execute(_STATUS, {"j_id": job_id})).one_or_none() is None:
            raise JobNotFoundError(job_id)
        return None
    job = RunningJob(job_id, *head[:6])
    if combined:
        thread_rows = [r[6:] for r in rows]
    else:
        thread_rows = list((await conn.execute(_THREAD, {"t_id": job.thread_id})).all())
    user_id, thread_name, version = thread_rows[0][:3]
    thread = ThreadState(job.thread_id, user_id, thread_name, version)
    messages = tuple(StoredMessage(*r[3:]) for r in thread_rows if r[3] is not None)
    draft_status = current_text = revision_id = None
    if job.draft_id is not None:
        found = (await conn.execute(_LATEST_TEXT, {"d_id": job.draft_id})).one_or_none()
        if found is not None:
            draft_status, current_text, revision_id = found
    earlier: tuple[EarlierThread, ...] = ()
    if indexed is not None:
        earlier = await _unindexed(conn, thread, indexed(user_id))
    return JobContext(job, thread, messages, draft_status, current_text, earlier, revision_id)


async def _unindexed(
    conn: AsyncConnection, thread: ThreadState, indexed: Mapping[int, int]
) -> tuple[EarlierThread, ...]:
    others = await conn.execute(_USER_THREADS, {"u_id": thread.user_id, "t_id": thread.id})
    changed = {t: (name, v) for t, name, v in others if indexed.get(t) != v}
    if not changed:
        return ()
    by_thread: dict[int, list[StoredMessage]] = {t: [] for t in changed}
    for t, *fields in await conn.execute(_MESSAGES_OF, {"t_ids": list(changed)}):
        by_thread[t].append(StoredMessage(*fields))
    return tuple(
        EarlierThread(t, changed[t][0], changed[t][1], tuple(msgs)) for t, msgs in by_thread.items()
    )


@dataclass(frozen=True, slots=True)
class Saved:
    """What saving a job's result did.

    Attributes:
        status: The job's final status: ``done``, ``truncated`` or ``discarded``.
        draft_id: The draft written to (``None`` when discarded).
        reason: Why it was discarded.
        superseded: Drafts of the thread this draft replaced.
    """

    status: str
    draft_id: str | None = None
    reason: str | None = None
    superseded: tuple[str, ...] = ()


async def save_result(engine: AsyncEngine, job_id: str, revision: Provenance) -> Saved:
    """Save a job's text as a new draft or revision, unless the thread or draft moved on.

    A ready first draft supersedes the thread's other open drafts in the same transaction, so a
    thread's current draft stays current until its successor is saved. A revision whose
    ``status`` is ``truncated`` is kept for the lineage but supersedes nothing, and the job
    ends ``truncated``.

    Raises:
        JobNotFoundError: no such job.
        sqlalchemy.exc.IntegrityError: another delivery of the job saved first.
    """
    now = utcnow()
    ending = "truncated" if revision.get("status") == "truncated" else "done"
    async with engine.begin() as conn:
        row = (await conn.execute(_LOCK, {"j_id": job_id})).one_or_none()
        if row is None:
            raise JobNotFoundError(job_id)
        status, kind, user_id, job_version, draft_id, feedback, thread_id, version = row
        if status in ("done", "truncated"):
            return Saved(status, draft_id)
        if version != job_version:
            reason = str(StaleDraftError(job_version, version))
            await _end(conn, job_id, "discarded", reason, None, now)
            return Saved("discarded", reason=reason)
        superseded: tuple[str, ...] = ()
        if kind == "draft":
            draft_id, number, feedback = str(uuid.uuid4()), 1, None
            draft = {
                "id": draft_id,
                "thread_id": thread_id,
                "user_id": user_id,
                "status": "open",
                "thread_version": job_version,
                "origin_job_id": job_id,
                "created_at": now,
                "updated_at": now,
            }
            await conn.execute(_INSERT_DRAFT, draft)
            if ending == "done":
                params = {"t_id": thread_id, "d_id": draft_id, "now": now}
                superseded = tuple((await conn.execute(_SUPERSEDE_OTHERS, params)).scalars())
        else:
            draft_status, top = (await conn.execute(_DRAFT_TOP, {"d_id": draft_id})).one()
            if draft_status != "open":
                reason = f"discarded: the draft was {draft_status} before the revision was ready"
                await _end(conn, job_id, "discarded", reason, None, now)
                return Saved("discarded", reason=reason)
            number = (top or 0) + 1
            await conn.execute(_TOUCH_DRAFT, {"d_id": draft_id, "now": now})
        rev = {
            **revision,
            "draft_id": draft_id,
            "number": number,
            "job_id": job_id,
            "feedback": feedback,
            "created_at": now,
        }
        await conn.execute(_INSERT_REVISION, rev)
        await _end(conn, job_id, ending, None, draft_id, now)
        return Saved(ending, draft_id, superseded=superseded)


async def _end(
    conn: AsyncConnection,
    job_id: str,
    status: str,
    error: str | None,
    draft_id: str | None,
    now: Any,
) -> None:
    params = {"j_id": job_id, "to": status, "why": error, "d_id": draft_id, "now": now}
    await conn.execute(_END, params)


async def give_up(engine: AsyncEngine, job_id: str, head: str, fallback: str) -> bool:
    """Fail a job that is still queued or running; its error is ``head`` followed by the error
    it recorded last, else ``fallback``.

    Returns:
        Whether the job was failed (``False`` when it had already ended).
    """
    params = {"j_id": job_id, "head": head, "fallback": fallback, "now": utcnow()}
    async with engine.begin() as conn:
        return bool((await conn.execute(_GIVE_UP, params)).rowcount)
