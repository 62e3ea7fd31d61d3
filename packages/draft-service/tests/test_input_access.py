"""Unstorable text is refused on every field, every read needs its owner, writes are limited."""

from __future__ import annotations

import json
from typing import Any

import pytest
from draft_test_helpers import make_settings, running, thread, wait_job


def _with(body: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


@pytest.mark.parametrize(
    "path",
    [
        ("user_id",),
        ("thread_name",),
        ("messages", 0, "message_id"),
        ("messages", 0, "sender_name"),
        ("messages", 0, "message_content"),
    ],
)
@pytest.mark.parametrize("bad", ["nul\x00here", "lone \ud800 surrogate"])
async def test_unstorable_text_is_422_naming_the_field_and_nothing_is_written(
    database_url: str, path: tuple[Any, ...], bad: str
) -> None:
    async with running(make_settings(database_url)) as svc:
        c = svc.client
        body = _with(thread("bob", "t", ("m1", "Ann", "Hello?")), path, bad)
        raw = json.dumps(body).encode()  # \ud800 travels as a JSON escape, as clients send it
        r = await c.post(
            "/send-messages/", content=raw, headers={"content-type": "application/json"}
        )
        assert r.status_code == 422, r.text
        assert str(path[-1]) in r.text
        ok = await c.post("/send-messages/", json=thread("bob", "t", ("m9", "Ann", "Hi")))
        job = await wait_job(c, ok.json()["job_id"], "bob")
        assert job["status"] == "done"
        detail = await c.get(f"/drafts/{job['draft_message_id']}", params={"user_id": "bob"})
        assert detail.json()["revisions"][0]["provenance"]["message_ids"] == ["m9"]


async def test_feedback_query_and_path_fields_refuse_nul(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        r = await c.post("/send-messages/", json=thread("bob", "t", ("m1", "Ann", "Hello?")))
        job = await wait_job(c, r.json()["job_id"], "bob")
        fb = {"user_id": "bob", "draft_message_id": job["draft_message_id"], "feedback": "a\x00"}
        assert (await c.post("/process-feedback/", json=fb)).status_code == 422
        assert (await c.get("/draft-messages/", params={"user_id": "b\x00"})).status_code == 422
        assert (await c.get("/jobs/x%00y", params={"user_id": "bob"})).status_code == 422
        detail = await c.get(f"/drafts/{job['draft_message_id']}", params={"user_id": "bob"})
        assert len(detail.json()["revisions"]) == 1


@pytest.mark.parametrize("field", ["display_name", "role", "signature", "tone"])
@pytest.mark.parametrize("bad", ["nul\x00here", "lone \ud800 surrogate"])
async def test_profile_fields_and_the_event_streams_user_refuse_unstorable_text(
    sqlite_url: str, field: str, bad: str
) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        body = {"display_name": "Sam", "role": "Support", "signature": "Sam", "tone": "warm"}
        raw = json.dumps(body | {field: bad}).encode()
        r = await c.put(
            "/users/bob/profile", content=raw, headers={"content-type": "application/json"}
        )
        assert r.status_code == 422, r.text
        assert field in r.text
        assert (await c.get("/users/bob/profile")).status_code == 404  # nothing was stored
        assert (await c.get("/users/b%00ob/events")).status_code == 422


async def test_every_job_read_needs_its_owner(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        r = await c.post("/send-messages/", json=thread("bob", "t", ("m1", "Ann", "Hello?")))
        job_id = r.json()["job_id"]
        assert (await c.get(f"/jobs/{job_id}")).status_code == 422  # user_id is required
        assert (await c.get(f"/jobs/{job_id}", params={"user_id": "eve"})).status_code == 404
        assert (await c.get(f"/jobs/{job_id}", params={"user_id": "bob"})).status_code == 200


async def test_writes_are_rate_limited_per_user(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url, rate_limit_per_minute=3)) as svc:
        c = svc.client
        bodies = [thread("bob", f"t{i}", ("m", "A", "x")) for i in range(4)]
        codes = [(await c.post("/send-messages/", json=b)).status_code for b in bodies]
        assert codes == [202, 202, 202, 429]
        r = await c.post("/send-messages/", json=thread("bob", "t9", ("m", "A", "x")))
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        assert "DRAFTS_RATE_LIMIT_PER_MINUTE" in r.json()["detail"]
        other = await c.post("/send-messages/", json=thread("eve", "t", ("m", "A", "x")))
        assert other.status_code == 202
