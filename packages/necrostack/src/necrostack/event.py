"""The :class:`Event`: an immutable, validated message that flows through the Spine."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

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


# Version-4 UUID strings, made 256 at a time from one os.urandom() read: uuid.uuid4() builds
# a UUID object only to format it, and a read per id is a system call per event.
# list.pop() and list.extend() are atomic under the GIL, so threads can share the pool; a
# forked child drops what it inherited, or it would hand out its parent's ids.
_ids: list[str] = []
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}  # RFC 4122: 10xx


def _refill_ids() -> None:
    block = os.urandom(16 * 256).hex()
    variant = _VARIANT
    _ids.extend(
        f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:32]}"
        for h in (block[i : i + 32] for i in range(0, len(block), 32))
    )


def _new_id() -> str:
    try:
        return _ids.pop()
    except IndexError:
        _refill_ids()
        return _ids.pop()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_ids.clear)


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
    # set directly rather than declared as a PrivateAttr, whose per-instance set-up costs
    # about as much as the rest of building an event.

    def __eq__(self, other: object) -> bool:
        # The fields only: the private size bound depends on how the event was built.
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(self.id)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        # One validator for every check: each call from pydantic-core into Python costs a
        # large share of building or decoding an event, so none is a field validator.
        fields = self.__dict__
        event_type = fields["event_type"]
        if not event_type or event_type.isspace():
            raise ValueError("event_type must not be empty or whitespace-only")
        timestamp = fields["timestamp"]
        if timestamp.tzinfo is not UTC:
            if timestamp.tzinfo is None or timestamp.utcoffset() is None:
                raise ValueError("timestamp must be timezone-aware (use datetime.now(UTC))")
            fields["timestamp"] = timestamp.astimezone(UTC)
        context = info.context
        if isinstance(context, dict) and context.get("necrostack_trusted"):
            # Parsed from JSON that necrostack wrote from a checked event: the id is a UUID
            # and the payload JSON by construction.
            return self
        if "id" in self.__pydantic_fields_set__:
            try:
                fields["id"] = str(uuid.UUID(fields["id"]))
            except ValueError:
                raise ValueError(f"id must be a UUID string, got {fields['id']!r}") from None
        bound = check_json(fields["payload"]) + _ENVELOPE + 6 * len(event_type)
        for key, value in fields["metadata"].items():
            bound += 6 * (len(key) + len(value)) + 6
        if fields["key"] is not None:
            bound += 6 * len(fields["key"])
        object.__setattr__(self, "__pydantic_private__", {"_size_bound": bound})
        return self
