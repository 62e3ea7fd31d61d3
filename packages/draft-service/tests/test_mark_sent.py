"""Marking a draft sent: it leaves the list, is not revised any more, and only its owner may."""

from __future__ import annotations

from draft_test_helpers import make_settings, running, thread, wait_job


async def test_a_sent_draft_leaves_the_list_and_refuses_feedback(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        job = (await c.post("/send-messages/", json=thread("bob", "t", ("1", "Ann", "Hi?")))).json()
        draft_id = (await wait_job(c, job["job_id"], "bob"))["draft_message_id"]
        other = await c.post("/mark-sent/", json={"user_id": "eve", "draft_message_id": draft_id})
        assert other.status_code == 404
        body = {"user_id": "bob", "draft_message_id": draft_id}
        for _ in range(2):  # marking again is fine
            answer = await c.post("/mark-sent/", json=body)
            assert answer.status_code == 200
            assert answer.json() == {"message": "Draft marked sent"}
        listed = await c.get("/draft-messages/", params={"user_id": "bob"})
        assert listed.json()["draft_messages"] == []
        detail = await c.get(f"/drafts/{draft_id}", params={"user_id": "bob"})
        assert detail.json()["status"] == "sent"
        feedback = await c.post("/process-feedback/", json={**body, "feedback": "shorter"})
        assert feedback.status_code == 409
        assert "is sent" in feedback.json()["detail"]
        assert (await c.post("/reject-draft/", json=body)).status_code == 200


async def test_a_rejected_draft_cannot_be_marked_sent(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as svc:
        c = svc.client
        job = (await c.post("/send-messages/", json=thread("bob", "t", ("1", "Ann", "Hi?")))).json()
        draft_id = (await wait_job(c, job["job_id"], "bob"))["draft_message_id"]
        body = {"user_id": "bob", "draft_message_id": draft_id}
        assert (await c.post("/reject-draft/", json=body)).status_code == 200
        answer = await c.post("/mark-sent/", json=body)
        assert answer.status_code == 409
        assert "rejected" in answer.json()["detail"]
