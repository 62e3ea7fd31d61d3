"""Bad input answers 422 naming the field, or 413 for an oversized body."""

from __future__ import annotations

from typing import Any

import pytest
from draft_test_helpers import make_settings, running, thread


def _body(**message: Any) -> dict[str, Any]:
    body = thread("bob", "t", ("m1", "Ann", "Hello"))
    body["messages"][0].update(message)
    return dict(body.items())


CASES = [
    ({k: v for k, v in thread("b", "t", ("1", "A", "x")).items() if k != "user_id"}, "user_id"),
    ({"user_id": "b", "messages": thread("b", "t", ("1", "A", "x"))["messages"]}, "thread_name"),
    (thread("b", "t"), "messages"),
    (_body(date="01/05/2024"), "date"),
    (_body(date="2024-13-01"), "date"),
    (_body(time="9:00"), "time"),
    (_body(time="25:00:00"), "time"),
    (_body(message_content=""), "message_content"),
    ({**thread("b", "t", ("1", "A", "x")), "surprise": 1}, "surprise"),
]


@pytest.mark.parametrize(("body", "field"), CASES)
async def test_send_messages_rejects_bad_input_naming_the_field(
    sqlite_url: str, body: dict[str, Any], field: str
) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        r = await svc.client.post("/send-messages/", json=body)
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["errors"]]
    assert any(field in loc for loc in locs), locs


async def test_other_endpoints_name_missing_fields(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        r = await c.post("/process-feedback/", json={"user_id": "b", "draft_message_id": "d"})
        assert r.status_code == 422
        assert ["body", "feedback"] in [e["loc"] for e in r.json()["errors"]]
        r = await c.post("/reject-draft/", json={"user_id": "b"})
        assert ["body", "draft_message_id"] in [e["loc"] for e in r.json()["errors"]]
        r = await c.get("/draft-messages/")
        assert r.status_code == 422
        assert ["query", "user_id"] in [e["loc"] for e in r.json()["errors"]]


async def test_fractional_seconds_are_accepted(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        r = await svc.client.post("/send-messages/", json=_body(time="09:15:07.123456"))
    assert r.status_code == 202


async def test_ten_megabyte_body_is_413(sqlite_url: str) -> None:
    body = thread("bob", "t", ("m1", "Ann", "x" * (10 * 1024 * 1024)))
    async with running(make_settings(sqlite_url)) as svc:
        r = await svc.client.post("/send-messages/", json=body)
        assert r.status_code == 413
        drafts = await svc.client.get("/draft-messages/", params={"user_id": "bob"})
        assert drafts.json() == {"draft_messages": []}
