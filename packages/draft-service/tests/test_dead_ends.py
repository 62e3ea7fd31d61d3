"""No dead ends: a failed job can be retried (or re-sent), the current draft stays current until
its successor is saved, and closed drafts refuse feedback at once."""

from __future__ import annotations

from draft_llm_stub import OpenAIStub
from draft_test_helpers import make_settings, running, thread, wait_job


async def _current(c: object, user: str) -> list[str]:
    r = await c.get("/draft-messages/", params={"user_id": user})  # type: ignore[attr-defined]
    return [d["draft_message_id"] for d in r.json()["draft_messages"]]


async def test_a_failed_job_leaves_the_current_draft_and_can_be_retried_or_resent(
    database_url: str, llm: OpenAIStub
) -> None:
    settings = make_settings(database_url, llm, llm_max_attempts=2)
    async with running(settings) as svc:
        c = svc.client
        one = thread("bob", "t", ("1", "Ann", "Lunch tomorrow?"))
        sent_one = await c.post("/send-messages/", json=one)
        first = await wait_job(c, sent_one.json()["job_id"], "bob")
        old_draft = first["draft_message_id"]

        llm.script.always_status = 500  # the LLM goes down
        two = thread("bob", "t", ("1", "Ann", "Lunch tomorrow?"), ("2", "Ann", "Or Friday?"))
        sent = (await c.post("/send-messages/", json=two)).json()
        failed = await wait_job(c, sent["job_id"], "bob")
        assert failed["status"] == "failed"
        assert "500" in failed["error"]
        # The thread's draft is still there: superseding happens when a successor is saved.
        assert await _current(c, "bob") == [old_draft]

        r = await c.post(f"/jobs/{sent['job_id']}/retry", params={"user_id": "eve"})
        assert r.status_code == 404
        r = await c.post(f"/jobs/{first['job_id']}/retry", params={"user_id": "bob"})
        assert r.status_code == 409
        assert "done" in r.json()["detail"]

        # Re-sending the same messages queues the failed job again (it fails again here).
        again = (await c.post("/send-messages/", json=two)).json()
        assert again["job_id"] == sent["job_id"]
        assert (await wait_job(c, sent["job_id"], "bob"))["status"] == "failed"

        llm.script.always_status = None  # back up: the retry drafts
        r = await c.post(f"/jobs/{sent['job_id']}/retry", params={"user_id": "bob"})
        assert r.status_code == 202
        assert r.json()["status"] in ("queued", "running", "done")
        assert r.headers["Location"] == f"/jobs/{sent['job_id']}?user_id=bob"
        done = await wait_job(c, sent["job_id"], "bob")
        assert done["status"] == "done", done
        assert await _current(c, "bob") == [done["draft_message_id"]]
        old = (await c.get(f"/drafts/{old_draft}", params={"user_id": "bob"})).json()
        assert old["status"] == "superseded"


async def test_a_retry_of_an_overtaken_job_is_refused_with_the_reason(
    sqlite_url: str, llm: OpenAIStub
) -> None:
    llm.script.always_status = 500
    async with running(make_settings(sqlite_url, llm, llm_max_attempts=1)) as svc:
        c = svc.client
        one = (await c.post("/send-messages/", json=thread("bob", "t", ("1", "A", "Hi?")))).json()
        assert (await wait_job(c, one["job_id"], "bob"))["status"] == "failed"
        body = thread("bob", "t", ("2", "A", "Hello?"))
        two = (await c.post("/send-messages/", json=body)).json()
        await wait_job(c, two["job_id"], "bob")
        r = await c.post(f"/jobs/{one['job_id']}/retry", params={"user_id": "bob"})
        assert r.status_code == 409
        assert "newer messages" in r.json()["detail"]


async def test_feedback_on_a_rejected_draft_is_refused_at_once(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        r = await c.post("/send-messages/", json=thread("bob", "t", ("1", "Ann", "Dinner?")))
        draft_id = (await wait_job(c, r.json()["job_id"], "bob"))["draft_message_id"]
        await c.post("/reject-draft/", json={"user_id": "bob", "draft_message_id": draft_id})
        fb = await c.post(
            "/process-feedback/",
            json={"user_id": "bob", "draft_message_id": draft_id, "feedback": "shorter"},
        )
        assert fb.status_code == 409
        assert "rejected" in fb.json()["detail"]
        detail = (await c.get(f"/drafts/{draft_id}", params={"user_id": "bob"})).json()
        assert len(detail["revisions"]) == 1  # nothing was queued
