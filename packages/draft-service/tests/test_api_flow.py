"""The whole flow over HTTP on SQLite and PostgreSQL, with the real openai client."""

from __future__ import annotations

from draft_llm_stub import OpenAIStub
from draft_test_helpers import make_settings, running, thread, wait_job


async def test_send_draft_feedback_reject(database_url: str, llm: OpenAIStub) -> None:
    settings = make_settings(database_url, llm)
    async with running(settings) as svc:
        c = svc.client
        body = thread(
            "bob",
            "budget",
            ("m1", "Alice", "Can we move the budget review to Friday?"),
            ("m2", "Alice", "The finance team needs it before the board meeting."),
        )
        r = await c.post("/send-messages/", json=body)
        assert r.status_code == 202
        sent = r.json()
        assert set(sent) == {"message", "job_id"}
        assert sent["message"] == "Message processing started in the background"
        assert r.headers["Location"] == f"/jobs/{sent['job_id']}?user_id=bob"

        job = await wait_job(c, sent["job_id"], "bob")
        assert job["status"] == "done", job
        assert job["kind"] == "draft"
        followed = await c.get(r.headers["Location"])
        assert followed.status_code == 200
        assert followed.json()["job_id"] == sent["job_id"]

        r = await c.get("/draft-messages/", params={"user_id": "bob"})
        assert r.status_code == 200
        drafts = r.json()["draft_messages"]
        assert len(drafts) == 1
        assert set(drafts[0]) == {"thread_name", "draft_message_id", "draft_message_content"}
        assert drafts[0]["thread_name"] == "budget"
        assert drafts[0]["draft_message_content"].startswith("Draft 1")
        draft_id = drafts[0]["draft_message_id"]
        assert job["draft_message_id"] == draft_id

        r = await c.post(
            "/process-feedback/",
            json={"user_id": "bob", "draft_message_id": draft_id, "feedback": "be more formal"},
        )
        assert r.status_code == 202
        fb = r.json()
        assert fb["message"] == "Message processing started in the background"
        assert r.headers["Location"] == f"/jobs/{fb['job_id']}?user_id=bob"
        job = await wait_job(c, fb["job_id"], "bob")
        assert job["status"] == "done", job
        assert job["kind"] == "feedback"

        r = await c.get(f"/drafts/{draft_id}", params={"user_id": "bob"})
        assert r.status_code == 200
        detail = r.json()
        assert detail["status"] == "open"
        revs = detail["revisions"]
        assert [rev["number"] for rev in revs] == [1, 2]
        assert revs[0]["feedback"] is None
        assert revs[1]["feedback"] == "be more formal"
        assert "revised per 'be more formal'" in revs[1]["content"]
        assert detail["draft_message_content"] == revs[1]["content"]
        for rev in revs:
            assert rev["provider"] == "openai"
            assert rev["model"] == "stub/model-1"
            assert rev["prompt_version"] == "v2"
            assert rev["status"] == "ready"
            assert rev["provenance"]["finish_reason"] == "stop"
            assert rev["provenance"]["served_model"] == "stub-served-model"
            assert rev["prompt_tokens"] > 0
            assert rev["completion_tokens"] > 0
            assert rev["created_at"]
        # The revision prompt carried the thread, the current draft and the feedback.
        prompt = llm.script.requests[-1]["messages"][1]["content"]
        assert "board meeting" in prompt
        assert revs[0]["content"] in prompt
        assert "be more formal" in prompt

        r = await c.get("/draft-messages/", params={"user_id": "bob"})
        assert r.json()["draft_messages"][0]["draft_message_content"] == revs[1]["content"]

        reject = {"user_id": "bob", "draft_message_id": draft_id}
        r = await c.post("/reject-draft/", json=reject)
        assert (r.status_code, r.json()) == (200, {"message": "Draft rejected"})
        r = await c.post("/reject-draft/", json=reject)
        assert (r.status_code, r.json()) == (200, {"message": "Draft rejected"})
        r = await c.get("/draft-messages/", params={"user_id": "bob"})
        assert r.json() == {"draft_messages": []}
        r = await c.get(f"/drafts/{draft_id}", params={"user_id": "bob"})
        assert r.json()["status"] == "rejected"
        assert len(r.json()["revisions"]) == 2


async def test_root_health_and_unknown_ids(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        assert (await c.get("/")).json() == {"status": "ok"}
        assert (await c.get("/health/live")).status_code == 200
        ready = await c.get("/health/ready")
        assert ready.status_code == 200
        assert "database" in ready.text
        r = await c.post("/reject-draft/", json={"user_id": "bob", "draft_message_id": "nope"})
        assert r.status_code == 404
        assert "nope" in r.json()["detail"]
        r = await c.post(
            "/process-feedback/",
            json={"user_id": "bob", "draft_message_id": "nope", "feedback": "x"},
        )
        assert r.status_code == 404
        assert (await c.get("/drafts/nope", params={"user_id": "bob"})).status_code == 404
        assert (await c.get("/jobs/nope", params={"user_id": "bob"})).status_code == 404


async def test_users_only_see_their_own_drafts_and_jobs(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        r = await c.post(
            "/send-messages/", json=thread("bob", "t", ("m1", "Alice", "Lunch on Tuesday?"))
        )
        job_id = r.json()["job_id"]
        job = await wait_job(c, job_id, "bob")
        draft_id = job["draft_message_id"]
        # The offline drafter is the default and says so in the provenance.
        detail = (await c.get(f"/drafts/{draft_id}", params={"user_id": "bob"})).json()
        assert detail["revisions"][0]["provider"] == "offline"
        assert "Alice" in detail["draft_message_content"]

        assert (await c.get("/draft-messages/", params={"user_id": "eve"})).json() == {
            "draft_messages": []
        }
        assert (await c.get(f"/drafts/{draft_id}", params={"user_id": "eve"})).status_code == 404
        assert (await c.get(f"/jobs/{job_id}", params={"user_id": "eve"})).status_code == 404
        r = await c.post("/reject-draft/", json={"user_id": "eve", "draft_message_id": draft_id})
        assert r.status_code == 404
        r = await c.post(
            "/process-feedback/",
            json={"user_id": "eve", "draft_message_id": draft_id, "feedback": "x"},
        )
        assert r.status_code == 404
        # Same thread name for another user is another thread.
        r = await c.post(
            "/send-messages/", json=thread("eve", "t", ("m1", "Mallory", "Other words"))
        )
        await wait_job(c, r.json()["job_id"], "eve")
        bob = (await c.get("/draft-messages/", params={"user_id": "bob"})).json()
        assert [d["draft_message_id"] for d in bob["draft_messages"]] == [draft_id]


async def test_api_key_is_required_unless_disabled(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        no_key = {"Authorization": ""}
        r = await c.get("/draft-messages/", params={"user_id": "bob"}, headers=no_key)
        assert r.status_code == 401
        assert "DRAFTS_API_KEY" in r.json()["detail"]
        wrong = {"Authorization": "Bearer wrong"}
        r = await c.post("/send-messages/", json=thread("b", "t", ("1", "a", "x")), headers=wrong)
        assert r.status_code == 401
        assert (await c.get("/", headers=no_key)).status_code == 200
    open_settings = make_settings(sqlite_url, api_key=None, auth_disabled=True)
    async with running(open_settings) as svc:
        r = await svc.client.get("/draft-messages/", params={"user_id": "bob"})
        assert r.status_code == 200


def test_missing_key_fails_at_start(sqlite_url: str) -> None:
    import pytest

    from draft_service import create_draft_app
    from platform_core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="DRAFTS_AUTH_DISABLED") as info:
        create_draft_app(make_settings(sqlite_url, api_key=None))
    assert info.value.setting == "DRAFTS_API_KEY"
