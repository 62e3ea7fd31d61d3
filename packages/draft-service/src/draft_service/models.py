"""Wire models: the request and response bodies of the HTTP API."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "AcceptedResponse",
    "DraftDetail",
    "DraftListResponse",
    "DraftSummary",
    "FeedbackRequest",
    "JobStatus",
    "JobView",
    "MessageIn",
    "MessageResponse",
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
_Id = Annotated[str, Field(min_length=1, max_length=200)]

JobStatus = Literal["queued", "running", "done", "failed", "discarded"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class MessageIn(_Strict):
    """One message of a thread as the client sends it."""

    message_id: _Id
    sender_name: Annotated[str, Field(min_length=1, max_length=200)]
    date: WireDate
    time: WireTime
    message_content: Annotated[str, Field(min_length=1, max_length=100_000)]


class SendMessagesRequest(_Strict):
    """Body of ``POST /send-messages/``: new messages of one thread of one user."""

    user_id: _Id
    thread_name: Annotated[str, Field(min_length=1, max_length=500)]
    messages: Annotated[list[MessageIn], Field(min_length=1, max_length=1000)]


class FeedbackRequest(_Strict):
    """Body of ``POST /process-feedback/``: how to change a draft."""

    user_id: _Id
    draft_message_id: _Id
    feedback: Annotated[str, Field(min_length=1, max_length=20_000)]


class RejectRequest(_Strict):
    """Body of ``POST /reject-draft/``."""

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


class RevisionView(BaseModel):
    """One revision of a draft, with where it came from."""

    number: int
    content: str
    feedback: str | None
    provider: str
    model: str
    prompt_version: str
    prompt_tokens: int | None
    completion_tokens: int | None
    created_at: datetime


class DraftDetail(BaseModel):
    """Body of ``GET /drafts/{draft_message_id}``: a draft and its revision lineage."""

    draft_message_id: str
    thread_name: str
    status: Literal["open", "rejected", "superseded"]
    draft_message_content: str
    revisions: list[RevisionView]


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
