"""The :class:`Event`: an immutable, validated message that flows through the Spine."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any, Final, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from necrostack._json_check import check_json

__all__ = ["CAUSATION_ID", "TRACEPARENT", "TRACESTATE", "Event"]

CAUSATION_ID: Final = "causation_id"
"""Metadata key: the id of the event whose handler emitted this one."""
TRACEPARENT: Final = "traceparent"
"""Metadata key: the W3C ``traceparent`` header value of the producing span."""
TRACESTATE: Final = "tracestate"
"""Metadata key: the W3C ``tracestate`` header value of the producing span."""


# Bytes of JSON around the payload: field names, id, timestamp, punctuation.
_ENVELOPE = 256


def _new_id() -> str:
    # uuid.uuid4() builds a UUID object only to format it; this is the same version-4 id.
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """An immutable event: a type, a JSON payload, and who/when metadata.

    ``Event(**e.model_dump()) == e`` and ``Event.model_validate_json(e.model_dump_json()) == e``:
    the payload may hold JSON values only (``dict`` with ``str`` keys, ``list``, ``str``,
    ``int``, finite ``float``, ``bool``, ``None``), so its JSON round trip is exact. Anything
    else (a tuple, set, datetime, Decimal, int key, NaN, ...) is refused when the event is
    built, with an error naming its path in the payload.

    Attributes:
        id: A UUID string, generated when omitted.
        timestamp: When the event was created, timezone-aware UTC; generated when omitted.
        event_type: What happened, e.g. ``"ORDER_PLACED"``; not empty or whitespace-only.
        payload: JSON values for the handlers (see above).
        key: The partition key: on a partitioned Redis backend, events with the same key go
            to the same partition and keep their order. ``None`` (default): the id is used.
        metadata: String key-values for causation and trace propagation: ``causation_id``,
            ``traceparent`` and ``tracestate`` (W3C trace context). Empty by default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=_new_id)
    timestamp: datetime = Field(default_factory=_now)
    event_type: str
    payload: dict[str, Any] = Field(default_factory=dict)
    # Left out of the JSON when None, so workers of earlier versions (extra="forbid") still
    # accept the events of unpartitioned producers during a rolling upgrade.
    key: str | None = Field(default=None, exclude_if=lambda value: value is None)
    metadata: dict[str, str] = Field(default_factory=dict)
    # An upper bound of the event's JSON size is kept in __pydantic_private__ (as
    # "_size_bound") when the event is validated; absent when it was not (decoded from
    # necrostack's own JSON). The memory backend's size check serialises only above it. It is
    # set directly rather than declared as a whose per-instance set-up costs
    # about as much as the rest of building an event.

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str, info: ValidationInfo) -> str:
        context = info.context
        if context is not None and context.get("necrostack_trusted"):
            return value  # written by necrostack from a checked event
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

    def __eq__(self, other: object) -> bool:
        # The fields only: the private size bound depends on how the event was built.
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(self.id)

    @model_validator(mode="after")
    def _check_payload(self, info: ValidationInfo) -> Self:
        context = info.context
        if isinstance(context, dict) and context.get("necrostack_trusted"):
            return self  # parsed from JSON that necrostack wrote: JSON by construction
        bound = check_json(self.payload) + _ENVELOPE + 6 * len(self.event_type)
        for key, value in self.metadata.items():
            bound += 6 * (len(key) + len(value)) + 6
        if self.key is not None:
            bound += 6 * len(self.key)
        object.__setattr__(self, "__pydantic_private__", {"_size_bound": bound})
        return self

    @field_validator("event_type")
    @classmethod
    def _check_event_type(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("event_type must not be empty or whitespace-only")
        return value
