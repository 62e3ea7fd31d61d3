"""Model answers are checked before they are offered: token limit, empty, echo, addressee."""

from __future__ import annotations

import asyncio
from typing import Any

from draft_llm_stub import OpenAIStub
from draft_test_helpers import make_settings, running, thread, wait_job

from necrostack import Event, Feed

ASK = thread("agent", "t", ("m1", "Alice", "Can we move the budget review to Friday?"))


async def _run(llm: OpenAIStub, url: str, *, profile: bool = False) -> tuple[Any, dict[str, Any]]:
    svc_cm = running(make_settings(url, llm))
    svc = await svc_cm.__aenter__()
    if profile:
        await svc.client.put("/users/agent/profile", json={"display_name": "Sam"})
    r = await svc.client.post("/send-messages/", json=ASK)
    job = await wait_job(svc.client, r.json()["job_id"], "agent")
    detail: dict[str, Any] = {}
    if job["draft_message_id"]:
        d = await svc.client.get(f"/drafts/{job['draft_message_id']}", params={"user_id": "agent"})
        detail = d.json()
    drafts = (await svc.client.get("/draft-messages/", params={"user_id": "agent"})).json()
    await svc_cm.__aexit__(None, None, None)
    return job, {"detail": detail, "current": drafts["draft_messages"]}


async def test_length_is_retried_once_with_more_room(database_url: str, llm: OpenAIStub) -> None:
    llm.script.finish_reasons.append("length")
    job, seen = await _run(llm, database_url)
    assert job["status"] == "done"
    assert [r["max_tokens"] for r in llm.script.requests] == [512, 1024]
    provenance = seen["detail"]["revisions"][0]["provenance"]
    assert (provenance["max_tokens"], provenance["llm_calls"]) == (1024, 2)


async def test_length_twice_is_saved_truncated_and_not_offered(
    database_url: str, llm: OpenAIStub
) -> None:
    llm.script.finish_reasons.extend(["length", "length"])
    job, seen = await _run(llm, database_url)
    assert job["status"] == "truncated"
    assert seen["current"] == []
    revision = seen["detail"]["revisions"][0]
    assert revision["status"] == "truncated"
    assert revision["provenance"]["finish_reason"] == "length"
    assert seen["detail"]["draft_message_content"] == ""


async def test_an_echo_of_the_transcript_fails_with_the_reason(
    sqlite_url: str, llm: OpenAIStub
) -> None:
    llm.script.echo = True
    job, seen = await _run(llm, sqlite_url)
    assert job["status"] == "failed"
    assert "repeats the conversation" in job["error"]
    assert len(llm.script.requests) == 2
    assert seen["current"] == []


async def test_an_empty_answer_is_retried(sqlite_url: str, llm: OpenAIStub) -> None:
    llm.script.answers.extend(["   ", "Friday works for me."])
    job, seen = await _run(llm, sqlite_url)
    assert job["status"] == "done"
    assert seen["current"][0]["draft_message_content"] == "Friday works for me."


async def test_an_answer_greeting_the_writer_fails(sqlite_url: str, llm: OpenAIStub) -> None:
    llm.script.answers.extend(["Hi Sam, thanks for your help!", "Hello Sam, thank you!"])
    job, _ = await _run(llm, sqlite_url, profile=True)
    assert job["status"] == "failed"
    assert "greets the writer (Sam)" in job["error"]


async def test_role_prefixes_and_markup_are_stripped(sqlite_url: str, llm: OpenAIStub) -> None:
    llm.script.answers.append("Assistant: Hi Alice, Friday works.")
    _, seen = await _run(llm, sqlite_url)
    assert seen["current"][0]["draft_message_content"] == "Hi Alice, Friday works."
    llm.script.answers.append("[2024-05-01 09:01:00] Sam: Hi Alice, Friday is fine.")
    _, seen = await _run(llm, sqlite_url.replace("drafts.db", "two.db"), profile=True)
    assert seen["current"][0]["draft_message_content"] == "Hi Alice, Friday is fine."


async def _first(feed: Feed, channel: str, count: int) -> list[Event]:
    seen: list[Event] = []
    async for entry in feed.read(channel, "0"):
        seen.append(entry.event)
        if len(seen) == count:
            break
    return seen


async def test_a_truncated_draft_is_revised_with_feedback_into_a_ready_one(
    sqlite_url: str, llm: OpenAIStub
) -> None:
    """Not a dead end: feedback on the draft its job names gives a ready revision."""
    llm.script.finish_reasons.extend(["length", "length"])
    async with running(make_settings(sqlite_url, llm)) as svc:
        c = svc.client
        sent = await c.post("/send-messages/", json=ASK)
        job = await wait_job(c, sent.json()["job_id"], "agent")
        assert job["status"] == "truncated"
        told = await asyncio.wait_for(_first(svc.runtime.service.feed, "user:agent", 2), 10)
        assert [e.event_type for e in told] == ["job.queued", "draft.truncated"]
        assert told[1].payload["draft_id"] == job["draft_message_id"]
        fb = await c.post(
            "/process-feedback/",
            json={
                "user_id": "agent",
                "draft_message_id": job["draft_message_id"],
                "feedback": "Much shorter, please.",
            },
        )
        assert fb.status_code == 202, fb.text
        revised = await wait_job(c, fb.json()["job_id"], "agent")
        assert revised["status"] == "done", revised
        current = (await c.get("/draft-messages/", params={"user_id": "agent"})).json()
        assert [d["draft_message_id"] for d in current["draft_messages"]] == [
            job["draft_message_id"]
        ]
        assert current["draft_messages"][0]["draft_message_content"]
