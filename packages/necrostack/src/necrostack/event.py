"""The :class:`Event`: an immutable, validated message that flows through the Spine."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["CAUSATION_ID", "TRACEPARENT", "TRACESTATE", "Event"]

CAUSATION_ID: Final = "causation_id"
"""Metadata key: the id of the event whose handler emitted this one."""
TRACEPARENT: Final = "traceparent"
"""Metadata key: the W3C ``traceparent`` header value of the producing span."""
TRACESTATE: Final = "tracestate"
"""Metadata key: the W3C ``tracestate`` header value of the producing span."""


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """An immutable event: a type, a JSON payload, and who/when metadata.

    ``Event(**e.model_dump()) == e`` and ``Event.model_validate_json(e.model_dump_json()) == e``.

    Attributes:
        id: A UUID string, generated when omitted.
        timestamp: When the event was created, timezone-aware UTC; generated when omitted.
        event_type: What happened, e.g. ``"ORDER_PLACED"``; not empty or whitespace-only.
        payload: JSON-serialisable data for the handlers.
        metadata: String key-values for causation and trace propagation: ``causation_id``,
            ``traceparent`` and ``tracestate`` (W3C trace context). Empty by default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=_new_id)
    timestamp: datetime = Field(default_factory=_now)
    event_type: str
    payload: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"id must be a UUID string, got {value!r}") from None

    @field_validator("timestamp")
    @classmethod
    def _check_timestamp(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamp must be timezone-aware (use datetime.now(UTC))")
        return value.astimezone(UTC)

    @field_validator("event_type")
    @classmethod
    def _check_event_type(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("event_type must not be empty or whitespace-only")
        return value
