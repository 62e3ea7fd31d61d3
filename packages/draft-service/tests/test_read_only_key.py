"""``DRAFTS_READ_ONLY_API_KEY``: a key that reads drafts, jobs and event streams and is
refused (403) for every write."""

from __future__ import annotations

from draft_test_helpers import make_settings, running, thread, wait_job

READ_KEY = "a-read-only-key"


async def test_the_read_only_key_reads_and_every_write_with_it_is_refused(
    sqlite_url: str,
) -> None:
    settings = make_settings(sqlite_url, read_only_api_key=READ_KEY)
    async with running(settings) as svc:
        c = svc.client
        sent = await c.post("/send-messages/", json=thread("ro", "t", ("m1", "Al", "Hi?")))
        assert sent.status_code == 202
        job = await wait_job(c, sent.json()["job_id"], "ro")
        read = {"Authorization": f"Bearer {READ_KEY}"}
        listed = await c.get("/draft-messages/", params={"user_id": "ro"}, headers=read)
        job_read = await c.get(f"/jobs/{job['job_id']}", params={"user_id": "ro"}, headers=read)
        writes = [
            await c.post(
                "/send-messages/", json=thread("ro", "t", ("m2", "Al", "Hi?")), headers=read
            ),
            await c.post(
                "/reject-draft/",
                json={"user_id": "ro", "draft_message_id": job["draft_message_id"]},
                headers=read,
            ),
            await c.put("/users/ro/profile", json={"display_name": "Ro"}, headers=read),
        ]
        unknown = await c.get(
            "/draft-messages/",
            params={"user_id": "ro"},
            headers={"Authorization": "Bearer not-a-key"},
        )
        after = await c.get("/draft-messages/", params={"user_id": "ro"})

    assert listed.status_code == 200
    assert len(listed.json()["draft_messages"]) == 1
    assert job_read.status_code == 200
    for refused in writes:
        assert refused.status_code == 403, refused.text
        assert "DRAFTS_READ_ONLY_API_KEY" in refused.json()["detail"]
    assert unknown.status_code == 401
    assert after.json() == listed.json()  # nothing was written
