"""Properties 1-4 of the seed: the Event model."""

from __future__ import annotations

import os
import uuid
import warnings
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from necrostack import Event

from .conftest import event_types, payloads


@given(event_type=event_types, payload=payloads, meta=st.dictionaries(st.text(), st.text()))
def test_round_trip_through_dump_and_json(
    event_type: str, payload: dict[str, object], meta: dict[str, str]
) -> None:
    """Property 1: Event(**e.model_dump()) == e and a JSON round trip returns e."""
    event = Event(event_type=event_type, payload=payload, metadata=meta)
    assert Event(**event.model_dump()) == event
    assert Event.model_validate_json(event.model_dump_json()) == event


@given(st.integers(min_value=2, max_value=200))
def test_generated_ids_are_unique_uuids(n: int) -> None:
    """Property 2: every generated id differs and parses as a UUID."""
    ids = [Event(event_type="X").id for _ in range(n)]
    assert len(set(ids)) == n
    assert all(len(i) == 36 and i.count("-") == 4 for i in ids)


def test_generated_ids_are_version_4_uuids_in_canonical_form() -> None:
    for _ in range(600):  # more than one pooled read
        value = Event(event_type="X").id
        parsed = uuid.UUID(value)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == value


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_reuse_the_ids_pooled_by_its_parent() -> None:
    Event(event_type="X")  # the pool now holds ids read in this process
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # forking with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: send its next id, then leave without pytest's teardown
        try:
            os.write(write, Event(event_type="X").id.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as reader:
        child_id = reader.read()
    os.waitpid(pid, 0)
    assert len(child_id) == 36
    assert child_id != Event(event_type="X").id  # what the child had got without the reset


@given(st.text(alphabet=" \t\n\r\x0b\x0c", max_size=10))
def test_empty_or_whitespace_event_type_is_rejected(blank: str) -> None:
    """Property 3: empty and whitespace-only event types fail validation."""
    with pytest.raises(ValidationError, match="event_type"):
        Event(event_type=blank)


@given(
    name=st.text(min_size=1, max_size=12).filter(
        lambda s: s not in {"id", "timestamp", "event_type", "payload", "metadata"}
    ),
    value=st.integers(),
)
def test_unknown_fields_are_rejected(name: str, value: int) -> None:
    """Property 4: a field that is not part of Event is refused (extra="forbid")."""
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Event(**{"event_type": "X", name: value})


def test_timestamp_is_aware_utc_and_generated() -> None:
    before = datetime.now(UTC)
    event = Event(event_type="X")
    assert event.timestamp.utcoffset() == timedelta(0)
    assert before <= event.timestamp <= datetime.now(UTC)


def test_timestamp_in_other_zone_is_converted_and_naive_is_refused() -> None:
    plus2 = datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert Event(event_type="X", timestamp=plus2).timestamp == datetime(
        2024, 1, 1, 10, 0, tzinfo=UTC
    )
    with pytest.raises(ValidationError, match="timezone-aware"):
        Event(event_type="X", timestamp=datetime(2024, 1, 1))


def test_event_is_frozen_and_id_must_be_uuid() -> None:
    event = Event(event_type="X")
    with pytest.raises(ValidationError):
        event.event_type = "Y"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="UUID"):
        Event(id="not-a-uuid", event_type="X")
