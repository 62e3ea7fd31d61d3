"""Related-message scopes keep other counterparts' words out of a prompt; writer profiles."""

from __future__ import annotations

from typing import Any

import pytest
from draft_llm_stub import OpenAIStub
from draft_test_helpers import make_settings, running, thread, wait_job

ORDER_A = "Hi Alice, your refund for the blender order #A-48213 was sent today."


def _prompt_of(llm: OpenAIStub, needle: str) -> str:
    for request in reversed(llm.script.requests):
        text = "\n".join(m["content"] for m in request["messages"])
        if needle in text:
            return text
    raise AssertionError(f"no prompt mentions {needle!r}")


async def _draft(c: Any, body: dict[str, Any]) -> dict[str, Any]:
    r = await c.post("/send-messages/", json=body)
    job = await wait_job(c, r.json()["job_id"], str(body["user_id"]))
    assert job["status"] == "done", job
    detail = await c.get(f"/drafts/{job['draft_message_id']}", params={"user_id": body["user_id"]})
    revision: dict[str, Any] = detail.json()["revisions"][-1]
    return revision


@pytest.mark.parametrize("scope", ["thread", "participants", "user"])
async def test_a_prompt_holds_nothing_of_another_counterparts_thread(
    database_url: str, llm: OpenAIStub, scope: str
) -> None:
    settings = make_settings(database_url, llm, related_scope=scope)
    async with running(settings) as svc:
        c = svc.client
        await c.put("/users/agent/profile", json={"display_name": "Sam", "role": "support"})
        a = thread(
            "agent", "ticket-a", ("a1", "Alice", "Where is my refund?"), ("a2", "Sam", ORDER_A)
        )
        await _draft(c, a)
        earlier = thread("agent", "ticket-b-old", ("b0", "Bob", "The blender arrived broken."))
        await _draft(c, earlier)
        ask = ("b1", "Bob", "Any news on the refund for my blender order?")
        b = thread("agent", "ticket-b", ask)
        revision = await _draft(c, b)
        prompt = _prompt_of(llm, "Any news on the refund")
        provenance = revision["provenance"]
        assert provenance["related_scope"] == scope
        assert provenance["message_ids"] == ["b1"]
        archived = " ".join(provenance["archive_ids"])
        if scope == "user":  # the opt-in: every thread of the user, and the provenance says so
            assert "A-48213" in prompt
            assert "ticket-a" in archived
            return
        assert "A-48213" not in prompt
        assert "Alice" not in prompt
        assert "ticket-a" not in archived
        assert "a1" not in provenance["message_ids"]
        if scope == "participants":  # the earlier thread with the same counterpart is context
            assert "The blender arrived broken." in prompt
            assert "ticket-b-old" in archived
        else:
            assert provenance["archive_ids"] == []
            assert "The blender arrived broken." not in prompt


async def test_provenance_records_what_went_into_each_revision(
    sqlite_url: str, llm: OpenAIStub
) -> None:
    async with running(make_settings(sqlite_url, llm)) as svc:
        c = svc.client
        first = await _draft(c, thread("u1", "t", ("m1", "Ann", "Can we meet on Monday?")))
        p = first["provenance"]
        assert p["job_id"]
        assert p["thread_version"] == 1
        assert p["parent_revision_id"] is None
        assert p["template_version"] == "v2"
        assert p["prompt_sha256"].startswith("sha256:")
        assert p["finish_reason"] == "stop"
        assert p["temperature"] == 0.3
        assert p["max_tokens"] == 512
        assert p["duration_ms"] > 0
        assert p["served_model"] == "stub-served-model"
        assert first["model"] == "stub/model-1"  # the configured model, the server's beside it
        drafts = (await c.get("/draft-messages/", params={"user_id": "u1"})).json()
        draft_id = drafts["draft_messages"][0]["draft_message_id"]
        fb = await c.post(
            "/process-feedback/",
            json={"user_id": "u1", "draft_message_id": draft_id, "feedback": "add a time"},
        )
        assert (await wait_job(c, fb.json()["job_id"], "u1"))["status"] == "done"
        revs = (await c.get(f"/drafts/{draft_id}", params={"user_id": "u1"})).json()["revisions"]
        assert revs[1]["provenance"]["parent_revision_id"] == revs[0]["revision_id"]
        assert revs[1]["provenance"]["job_id"] == fb.json()["job_id"]


async def test_the_profile_describes_the_writer_and_an_id_never_does(
    sqlite_url: str, llm: OpenAIStub
) -> None:
    async with running(make_settings(sqlite_url, llm)) as svc:
        c = svc.client
        assert (await c.get("/users/usr_8f3a2c/profile")).status_code == 404
        await _draft(c, thread("usr_8f3a2c", "t1", ("m1", "Dana", "Is the invoice paid?")))
        anonymous = _prompt_of(llm, "Is the invoice paid?")
        assert "usr_8f3a2c" not in anonymous
        assert "Dana" in anonymous.split("\n", 1)[0]  # the reply addresses the counterpart
        profile = {
            "display_name": "Sam Lee",
            "role": "support agent at Acme",
            "signature": "Sam Lee\nAcme Support",
            "tone": "warm and brief",
        }
        r = await c.put("/users/usr_8f3a2c/profile", json=profile)
        assert r.status_code == 200
        assert r.json()["display_name"] == "Sam Lee"
        got = (await c.get("/users/usr_8f3a2c/profile")).json()
        assert {k: got[k] for k in profile} == profile
        revision = await _draft(c, thread("usr_8f3a2c", "t2", ("m2", "Dana", "And the receipt?")))
        named = _prompt_of(llm, "And the receipt?")
        assert "Sam Lee (support agent at Acme)" in named
        assert "warm and brief" in named
        assert "Acme Support" in named
        assert "usr_8f3a2c" not in named
        assert revision["provenance"]["writer_profile"] is True
        bad = await c.put("/users/usr_8f3a2c/profile", json={"display_name": "Sam\x00"})
        assert bad.status_code == 422
        assert (await c.get("/users/usr_8f3a2c/profile")).json()["display_name"] == "Sam Lee"
