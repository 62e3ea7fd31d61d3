"""Wire models: the request and response bodies of the HTTP API."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from api_core.storable import StorableStr

__all__ = [
    "AcceptedResponse",
    "DraftDetail",
    "DraftListResponse",
    "DraftSummary",
    "FeedbackRequest",
    "JobStatus",
    "JobView",
    "MarkSentRequest",
    "MessageIn",
    "MessageResponse",
    "ProfileIn",
    "ProfileView",
    "Provenance",
    "RejectRequest",
    "RevisionView",
    "SendMessagesRequest",
    "StatusResponse",
]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(\.\d{1,6})?")


def _parse_date(value: object) -> object:
    if isinstance(value, str):
        if not _DATE.fullmatch(value):
            raise ValueError("date must be YYYY-MM-DD, e.g. 2024-05-01")
        return date.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise ValueError("date must be a YYYY-MM-DD string")


def _parse_time(value: object) -> object:
    if isinstance(value, str):
        if not _TIME.fullmatch(value):
            raise ValueError("time must be HH:MM:SS with optional fractions, e.g. 14:03:09.25")
        return time.fromisoformat(value)
    if isinstance(value, time):
        return value
    raise ValueError("time must be an HH:MM:SS string")


WireDate = Annotated[date, BeforeValidator(_parse_date)]
WireTime = Annotated[time, BeforeValidator(_parse_time)]
_Id = Annotated[StorableStr, Field(min_length=1, max_length=200)]

JobStatus = Literal["queued", "running", "done", "truncated", "failed", "discarded"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class MessageIn(_Strict):
    """One message of a thread as the client sends it."""

    message_id: _Id
    sender_name: Annotated[StorableStr, Field(min_length=1, max_length=200)]
    date: WireDate
    time: WireTime
    message_content: Annotated[StorableStr, Field(min_length=1, max_length=100_000)]


class SendMessagesRequest(_Strict):
    """Body of ``POST /send-messages/``: new messages of one thread of one user."""

    user_id: _Id
    thread_name: Annotated[StorableStr, Field(min_length=1, max_length=500)]
    messages: Annotated[list[MessageIn], Field(min_length=1, max_length=1000)]


class FeedbackRequest(_Strict):
    """Body of ``POST /process-feedback/``: how to change a draft."""

    user_id: _Id
    draft_message_id: _Id
    feedback: Annotated[StorableStr, Field(min_length=1, max_length=20_000)]


class RejectRequest(_Strict):
    """Body of ``POST /reject-draft/``."""

    user_id: _Id
    draft_message_id: _Id


class MarkSentRequest(_Strict):
    """Body of ``POST /mark-sent/``: the draft was sent to the counterpart."""

    user_id: _Id
    draft_message_id: _Id


class AcceptedResponse(BaseModel):
    """The 202 answer: the work runs in the background as job ``job_id``."""

    message: str = "Message processing started in the background"
    job_id: str


class MessageResponse(BaseModel):
    """A plain confirmation, e.g. ``{"message": "Draft rejected"}``."""

    message: str


class StatusResponse(BaseModel):
    """Body of ``GET /``."""

    status: Literal["ok"] = "ok"


class DraftSummary(BaseModel):
    """One current draft in ``GET /draft-messages/``."""

    thread_name: str
    draft_message_id: str
    draft_message_content: str


class DraftListResponse(BaseModel):
    """Body of ``GET /draft-messages/``: the user's current drafts."""

    draft_messages: list[DraftSummary]


class Provenance(BaseModel):
    """What went into a revision's prompt and how the model answered.

    Attributes:
        job_id: The job that wrote it.
        thread_version: The thread version it answers.
        parent_revision_id: The revision it revises (feedback), else ``None``.
        message_ids: The thread's messages in the prompt (client message ids).
        archive_ids: The archive objects (earlier messages) in the prompt.
        related_scope: ``thread``, ``participants`` or ``user``.
        template_version: The prompt template version.
        prompt_sha256: Hash of the rendered prompt.
        writer_profile: Whether the user's profile described the writer.
        temperature: Sampling temperature (``None`` offline).
        max_tokens: Token limit of the last call (``None`` offline).
        finish_reason: Why the model stopped: ``stop``, ``length``, ...
        duration_ms: Duration of the last LLM call.
        served_model: The model the server said answered.
        llm_calls: Calls that returned an answer (a length or quality retry adds one).
    """

    job_id: str | None = None
    thread_version: int | None = None
    parent_revision_id: int | None = None
    message_ids: list[str] = Field(default_factory=list)
    archive_ids: list[str] = Field(default_factory=list)
    related_scope: str | None = None
    template_version: str | None = None
    prompt_sha256: str | None = None
    writer_profile: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    finish_reason: str | None = None
    duration_ms: float | None = None
    served_model: str | None = None
    llm_calls: int | None = None


class RevisionView(BaseModel):
    """One revision of a draft, with where it came from.

    ``status`` is ``ready``, or ``truncated`` when the model hit the token limit twice (kept
    for the lineage, never offered as the draft's text).
    """

    revision_id: int
    number: int
    status: Literal["ready", "truncated"]
    content: str
    feedback: str | None
    provider: str
    model: str
    prompt_version: str
    prompt_tokens: int | None
    completion_tokens: int | None
    created_at: datetime
    provenance: Provenance

    @classmethod
    def from_row(cls, row: Any) -> RevisionView:
        """The view of a stored revision."""
        return cls(
            revision_id=row.id,
            number=row.number,
            status=row.status,
            content=row.content,
            feedback=row.feedback,
            provider=row.provider,
            model=row.model,
            prompt_version=row.prompt_version,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            created_at=row.created_at,
            provenance=Provenance.model_validate(row.provenance or {}),
        )


class DraftDetail(BaseModel):
    """Body of ``GET /drafts/{draft_message_id}``: a draft and its revision lineage."""

    draft_message_id: str
    thread_name: str
    status: Literal["open", "rejected", "superseded", "sent"]
    draft_message_content: str
    revisions: list[RevisionView]


class ProfileIn(_Strict):
    """Body of ``PUT /users/{user_id}/profile``: how the user signs their replies."""

    display_name: Annotated[StorableStr, Field(min_length=1, max_length=200)]
    role: Annotated[StorableStr | None, Field(max_length=200)] = None
    signature: Annotated[StorableStr | None, Field(max_length=2000)] = None
    tone: Annotated[StorableStr | None, Field(max_length=200)] = None


class ProfileView(BaseModel):
    """A user's writer profile."""

    user_id: str
    display_name: str
    role: str | None
    signature: str | None
    tone: str | None
    updated_at: datetime


class JobView(BaseModel):
    """Body of ``GET /jobs/{job_id}``."""

    job_id: str
    kind: Literal["draft", "feedback"]
    status: JobStatus
    attempts: int
    error: str | None
    draft_message_id: str | None
    created_at: datetime
    updated_at: datetime
