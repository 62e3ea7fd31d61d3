"""Archive retrieval through activity-store, on memory and on the Elasticsearch-compatible
server: earlier messages of the same user reach the prompt; other users' never do."""

from __future__ import annotations

import pytest
from draft_llm_stub import OpenAIStub
from draft_test_helpers import make_settings, running, thread, wait_job

from activity_store import ActivityStore
from draft_service.activity_archive import ActivityArchive, keywords


@pytest.fixture(params=["memory", "elasticsearch"])
def archive_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point activity-store's own settings at the memory or Elasticsearch backend."""
    monkeypatch.setenv("ACTIVITY_STORE_CACHE", "memory")
    if request.param == "elasticsearch":
        url: str = request.getfixturevalue("elasticsearch_url")
        prefix: str = request.getfixturevalue("es_index_prefix")
        monkeypatch.setenv("ACTIVITY_STORE_BACKEND", "elasticsearch")
        monkeypatch.setenv("ES_URL", url)
        monkeypatch.setenv("ACTIVITY_STORE_NAMESPACE", prefix.rstrip("-_") or prefix)
    else:
        monkeypatch.setenv("ACTIVITY_STORE_BACKEND", "memory")
    return str(request.param)


async def test_related_messages_of_the_same_user_reach_the_prompt(
    archive_env: str, sqlite_url: str, llm: OpenAIStub
) -> None:
    async with running(make_settings(sqlite_url, llm, related_scope="user")) as svc:
        c = svc.client
        earlier = thread(
            "bob",
            "finance",
            ("f1", "Carol", "The quarterly invoice for the warehouse lease is overdue."),
            ("f2", "Carol", "Unrelated remark about lunch."),
        )
        await wait_job(c, (await c.post("/send-messages/", json=earlier)).json()["job_id"], "bob")
        other_user = thread(
            "eve", "secret", ("s1", "Mallory", "Eve's private warehouse lease invoice notes.")
        )
        r = await c.post("/send-messages/", json=other_user)
        await wait_job(c, r.json()["job_id"], "eve")

        now = thread("bob", "ops", ("o1", "Dan", "Did anyone pay the warehouse lease invoice?"))
        r = await c.post("/send-messages/", json=now)
        job = await wait_job(c, r.json()["job_id"], "bob")
        assert job["status"] == "done", job
        prompt = llm.script.requests[-1]["messages"][1]["content"]
        related = prompt.split("Related earlier messages", 1)[1]
        assert "quarterly invoice for the warehouse lease is overdue" in related
        assert "Unrelated remark about lunch" not in related
        assert "private" not in related


async def test_archiving_twice_keeps_one_note_per_message(archive_env: str) -> None:
    from datetime import datetime

    from draft_service.db.records import StoredMessage

    store = ActivityStore()
    archive = ActivityArchive(store)
    msg = StoredMessage(
        message_id="m/1",
        sender_name="Ann",
        sent_at=datetime(2024, 5, 1, 9, 0, 0),
        content="Budget spreadsheet attached",
    )
    try:
        await archive.archive("u 1", "t/1", [msg])
        await archive.archive("u 1", "t/1", [msg])
        found = await archive.related("u 1", "other", "the budget spreadsheet", 5)
        assert [line.content for line in found] == ["Budget spreadsheet attached"]
        assert found[0].sender_name == "Ann"
        assert await archive.related("u 1", "t/1", "budget spreadsheet", 5) == []
        assert await archive.related("someone else", "x", "budget spreadsheet", 5) == []
    finally:
        await archive.close()


def test_keywords_prefer_distinctive_words() -> None:
    assert keywords("Hello, did anyone pay the warehouse lease invoice?") == [
        "warehouse",
        "invoice",
        "anyone",
        "lease",
    ]
    assert keywords("ok hi") == []


async def test_archive_down_still_drafts_without_related_messages(
    sqlite_url: str,
    llm: OpenAIStub,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from platform_core.testing.services import free_port

    monkeypatch.setenv("ACTIVITY_STORE_BACKEND", "elasticsearch")
    monkeypatch.setenv("ACTIVITY_STORE_CACHE", "memory")
    monkeypatch.setenv("ES_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ES_REQUEST_TIMEOUT", "1")
    async with running(make_settings(sqlite_url, llm, related_scope="user")) as svc:
        c = svc.client
        body = thread("bob", "t", ("m1", "Ann", "Is the warehouse invoice paid?"))
        job = await wait_job(
            c, (await c.post("/send-messages/", json=body)).json()["job_id"], "bob"
        )
        assert job["status"] == "done", job
        prompt = llm.script.requests[-1]["messages"][1]["content"]
        assert "Is the warehouse invoice paid?" in prompt
        assert prompt.split("Related earlier messages", 1)[1].count("[") == 0
    warnings = [r.msg for r in caplog.records if "archive_unavailable" in str(r.msg)]
    assert warnings
    assert "drafting without related earlier messages" in str(warnings[0])
