"""What a running job reads from the database: plain, immutable records (no ORM state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["EarlierThread", "JobContext", "RunningJob", "StoredMessage", "ThreadState"]


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A job that was just marked running."""

    id: str
    kind: str
    user_id: str
    thread_id: int
    thread_version: int
    draft_id: str | None
    feedback: str | None


@dataclass(frozen=True, slots=True)
class ThreadState:
    """A thread as the job read it; ``version`` grows each time new messages arrive."""

    id: int
    user_id: str
    thread_name: str
    version: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One stored message of a thread."""

    message_id: str
    sender_name: str
    sent_at: datetime
    content: str


@dataclass(frozen=True, slots=True)
class EarlierThread:
    """Another thread of the job's user, with its messages, that the archive has not indexed at
    this version."""

    id: int
    thread_name: str
    version: int
    messages: tuple[StoredMessage, ...]


@dataclass(frozen=True, slots=True)
class JobContext:
    """Everything a job needs to call the LLM, read in one transaction.

    Attributes:
        job: The job.
        thread: Its thread.
        messages: The thread's messages, oldest first.
        draft_status: For a revision: the draft's status (``None`` when the draft is gone).
        current_text: For a revision: the draft's latest text.
        earlier: The user's other threads a process-local archive has yet to index.
        revision_id: For a revision: the id of the draft's latest revision (the parent).
    """

    job: RunningJob
    thread: ThreadState
    messages: tuple[StoredMessage, ...]
    draft_status: str | None
    current_text: str | None
    earlier: tuple[EarlierThread, ...] = ()
    revision_id: int | None = None
