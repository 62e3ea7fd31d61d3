"""The draft review inbox over HTTP: pages, form posts, CSRF and per-user access.

The app is the real deployable (``create_app``) on SQLite; drafts come from the offline drafter
or, where a job must fail and be retried, from the local OpenAI-compatible test server.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from draft_api import create_app

sys.path.insert(0, str(Path(__file__).parents[3] / "packages" / "draft-service" / "tests"))

from draft_llm_stub import OpenAIStub

KEY = "inbox-test-key-" + "Hq3" * 8
READ_KEY = "inbox-read-key-" + "Vb8" * 8
BEARER = {"Authorization": f"Bearer {KEY}"}
FINAL = ("done", "truncated", "failed", "discarded")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DRAFTS_REDIS_URL", "DRAFTS_LLM_API_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DRAFTS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    monkeypatch.setenv("DRAFTS_API_KEY", KEY)
    monkeypatch.setenv("DRAFTS_READ_ONLY_API_KEY", READ_KEY)
    monkeypatch.setenv("DRAFTS_SESSION_SECRET", "s" * 40)
    monkeypatch.setenv("DRAFTS_LLM_PROVIDER", "offline")
    monkeypatch.setenv("DRAFTS_RELATED_LIMIT", "0")


@asynccontextmanager
async def inbox(key: str = KEY) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app, signed in to the pages with ``key``."""
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://drafts") as client,
    ):
        form = await client.get("/ui/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        signed = await client.post(
            "/ui/sign-in", data={"csrf_token": token.group(1), "api_key": key}
        )
        assert signed.status_code == 303
        yield client


def csrf(page: httpx.Response) -> str:
    """The session's CSRF token in a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:2000]
    return found.group(1)


def body(user: str, name: str, *messages: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "user_id": user,
        "thread_name": name,
        "messages": [
            {
                "message_id": mid,
                "sender_name": sender,
                "date": "2024-05-01",
                "time": f"10:0{i}:00",
                "message_content": text,
            }
            for i, (mid, sender, text) in enumerate(messages)
        ],
    }


async def send(client: httpx.AsyncClient, payload: dict[str, Any]) -> str:
    answer = await client.post("/send-messages/", json=payload, headers=BEARER)
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["job_id"]
    return job_id


async def wait_job(client: httpx.AsyncClient, job_id: str, user: str) -> dict[str, Any]:
    for _ in range(1500):
        answer = await client.get(f"/jobs/{job_id}", params={"user_id": user}, headers=BEARER)
        job: dict[str, Any] = answer.json()
        if job["status"] in FINAL:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def thread_link(page: httpx.Response, name: str) -> str:
    found = re.search(rf'href="(/ui/threads/\d+\?user=[^"]+)">{re.escape(name)}</a>', page.text)
    assert found is not None, page.text[:3000]
    return html.unescape(found.group(1))


async def test_pages_need_a_signed_in_session(env: None) -> None:
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://drafts") as client,
    ):
        for path in ("/ui/", "/ui/threads?user=bob", "/ui/threads/1?user=bob", "/ui/profile"):
            answer = await client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/ui/sign-in?next=")
        refused = await client.post("/ui/drafts/x/reject", data={"user": "bob"})
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/ui/sign-in")


async def test_a_draft_is_listed_shown_revised_with_a_diff_and_marked_sent(env: None) -> None:
    async with inbox() as client:
        start = await client.get("/ui/")
        assert "No threads yet" in start.text
        job_id = await send(client, body("bob", "Lunch", ("m1", "Ann", "Are we on for lunch?")))
        await wait_job(client, job_id, "bob")

        start = await client.get("/ui/")
        assert 'href="/ui/threads?user=bob">bob</a>' in start.text
        chosen = await client.get("/ui/", params={"user": "bob"})
        assert chosen.status_code == 303
        assert chosen.headers["location"] == "/ui/threads?user=bob"

        listing = await client.get("/ui/threads", params={"user": "bob"})
        assert listing.status_code == 200
        assert 'class="status status-ready">Ready<' in listing.text
        assert "Are we on for lunch?" in listing.text

        page = await client.get(thread_link(listing, "Lunch"))
        assert page.status_code == 200
        assert "Are we on for lunch?" in page.text
        assert 'id="draft-text"' in page.text
        assert "In the prompt" in page.text  # m1 went into the prompt
        assert "<dt>Provider</dt><dd>offline</dd>" in page.text
        assert page.text.count('name="csrf_token"') >= 4  # sent, reject, feedback, sign-out
        draft_id = re.search(r'action="/ui/drafts/([^/]+)/feedback"', page.text)
        assert draft_id is not None
        token = csrf(page)

        revised = await client.post(
            f"/ui/drafts/{draft_id.group(1)}/feedback",
            data={"csrf_token": token, "user": "bob", "feedback": "be more formal, please"},
        )
        assert revised.status_code == 303
        assert revised.headers["location"].startswith(thread_link(listing, "Lunch"))
        drafts = (
            await client.get("/draft-messages/", params={"user_id": "bob"}, headers=BEARER)
        ).json()["draft_messages"]
        detail = (
            await client.get(
                f"/drafts/{draft_id.group(1)}", params={"user_id": "bob"}, headers=BEARER
            )
        ).json()
        for _ in range(500):
            if len(detail["revisions"]) == 2:
                break
            await asyncio.sleep(0.02)
            detail = (
                await client.get(
                    f"/drafts/{draft_id.group(1)}", params={"user_id": "bob"}, headers=BEARER
                )
            ).json()
        assert len(detail["revisions"]) == 2, detail
        assert len(drafts) == 1

        page = await client.get(thread_link(listing, "Lunch"))
        assert "Revision 2" in page.text
        assert "be more formal, please" in page.text  # the feedback in the lineage
        assert re.search(r"<(ins|del)>", page.text), "no word diff between the revisions"

        sent = await client.post(
            f"/ui/drafts/{draft_id.group(1)}/sent", data={"csrf_token": token, "user": "bob"}
        )
        assert sent.status_code == 303
        listing = await client.get("/ui/threads", params={"user": "bob"})
        assert 'class="status status-sent">Sent<' in listing.text
        gone = await client.get("/draft-messages/", params={"user_id": "bob"}, headers=BEARER)
        assert gone.json()["draft_messages"] == []
        page = await client.get(thread_link(listing, "Lunch"))
        assert "/feedback" not in page.text  # no actions left
        assert "/reject" not in page.text

        late = await client.post(
            f"/ui/drafts/{draft_id.group(1)}/feedback",
            data={"csrf_token": token, "user": "bob", "feedback": "shorter"},
        )
        assert late.status_code == 409
        assert "is sent" in html.unescape(late.text)


async def test_posts_without_the_csrf_token_or_for_another_user_change_nothing(
    env: None,
) -> None:
    async with inbox() as client:
        job_id = await send(client, body("bob", "Keys", ("k1", "Cy", "Where are the keys?")))
        draft_id = (await wait_job(client, job_id, "bob"))["draft_message_id"]
        page = await client.get("/ui/threads", params={"user": "bob"})
        token = csrf(page)

        no_token = await client.post(f"/ui/drafts/{draft_id}/reject", data={"user": "bob"})
        assert no_token.status_code == 403
        assert "CSRF" in no_token.text
        wrong = await client.post(
            f"/ui/drafts/{draft_id}/reject", data={"user": "bob", "csrf_token": token[:-2] + "xx"}
        )
        assert wrong.status_code == 403

        for action in ("reject", "sent", "feedback"):
            other = await client.post(
                f"/ui/drafts/{draft_id}/{action}",
                data={"user": "alice", "csrf_token": token, "feedback": "x"},
            )
            assert other.status_code == 404, action
            assert "nothing was changed" in other.text
        retried = await client.post(
            f"/ui/jobs/{job_id}/retry", data={"user": "alice", "csrf_token": token}
        )
        assert retried.status_code == 404
        alice_thread = await client.get("/ui/threads/1", params={"user": "alice"})
        assert alice_thread.status_code == 404

        drafts = await client.get("/draft-messages/", params={"user_id": "bob"}, headers=BEARER)
        assert [d["draft_message_id"] for d in drafts.json()["draft_messages"]] == [draft_id]

        rejected = await client.post(
            f"/ui/drafts/{draft_id}/reject", data={"user": "bob", "csrf_token": token}
        )
        assert rejected.status_code == 303
        listing = await client.get("/ui/threads", params={"user": "bob"})
        assert 'class="status status-rejected">Rejected<' in listing.text


async def test_a_failed_job_shows_its_error_and_is_retried_from_the_page(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = OpenAIStub().start()
    try:
        monkeypatch.setenv("DRAFTS_LLM_PROVIDER", "openai")
        monkeypatch.setenv("DRAFTS_LLM_API_KEY", "stub-key")
        monkeypatch.setenv("DRAFTS_LLM_MODEL", "stub/model-1")
        monkeypatch.setenv("DRAFTS_LLM_BASE_URL", stub.base_url)
        monkeypatch.setenv("DRAFTS_LLM_DEADLINE", "0.5")
        monkeypatch.setenv("DRAFTS_LLM_BACKOFF_BASE", "0.01")
        monkeypatch.setenv("DRAFTS_LLM_BACKOFF_CAP", "0.05")
        stub.script.always_status = 500
        async with inbox() as client:
            job_id = await send(client, body("bob", "Invoice", ("i1", "Dee", "Invoice 7?")))
            assert (await wait_job(client, job_id, "bob"))["status"] == "failed"
            listing = await client.get("/ui/threads", params={"user": "bob"})
            assert 'class="status status-failed">Failed<' in listing.text
            page = await client.get(thread_link(listing, "Invoice"))
            assert "The draft failed" in page.text
            assert "LLM" in page.text  # the job's error is shown
            assert f'action="/ui/jobs/{job_id}/retry"' in page.text

            stub.script.always_status = None
            retried = await client.post(
                f"/ui/jobs/{job_id}/retry", data={"user": "bob", "csrf_token": csrf(page)}
            )
            assert retried.status_code == 303
            assert (await wait_job(client, job_id, "bob"))["status"] == "done"
            page = await client.get(thread_link(listing, "Invoice"))
            assert 'class="status status-ready">Ready<' in page.text
            assert "<dt>Model</dt><dd>stub/model-1" in page.text
            assert re.search(r"<dt>Tokens</dt><dd>\d+ in, \d+ out</dd>", page.text)

            again = await client.post(
                f"/ui/jobs/{job_id}/retry", data={"user": "bob", "csrf_token": csrf(page)}
            )
            assert again.status_code == 409
            assert "only a failed job can be retried" in again.text
    finally:
        stub.stop()


async def test_the_writer_profile_is_edited_in_a_form(env: None) -> None:
    async with inbox() as client:
        page = await client.get("/ui/profile", params={"user": "bob"})
        assert page.status_code == 200
        assert "No profile yet" in page.text
        for label in ("Display name", "Role or company", "Tone", "Signature"):
            assert label in page.text
        token = csrf(page)
        bad = await client.post(
            "/ui/profile", data={"csrf_token": token, "user": "bob", "display_name": " "}
        )
        assert bad.status_code == 400
        assert "display name" in bad.text
        assert "not saved" in bad.text
        saved = await client.post(
            "/ui/profile",
            data={
                "csrf_token": token,
                "user": "bob",
                "display_name": "Bob Ray",
                "role": "Support, Acme",
                "signature": "Bob\nAcme support",
                "tone": "warm",
            },
        )
        assert saved.status_code == 303
        assert saved.headers["location"] == "/ui/profile?user=bob&saved=1"
        page = await client.get(saved.headers["location"])
        assert "Profile saved" in page.text
        assert 'value="Bob Ray"' in page.text
        api = await client.get("/users/bob/profile", headers=BEARER)
        assert api.json()["signature"] == "Bob\nAcme support"


async def test_bad_user_ids_and_unknown_threads_get_clear_error_pages(env: None) -> None:
    async with inbox() as client:
        missing = await client.get("/ui/threads")
        assert missing.status_code == 400
        assert "Choose whose inbox" in missing.text
        nul = await client.get("/ui/threads", params={"user": "bo\x00b"})
        assert nul.status_code == 400
        assert "user id" in nul.text
        long = await client.get("/ui/threads", params={"user": "x" * 201})
        assert long.status_code == 400
        assert "at most 200" in long.text
        unknown = await client.get("/ui/threads/999", params={"user": "bob"})
        assert unknown.status_code == 404
        assert "has no thread 999" in html.unescape(unknown.text)


async def test_the_read_only_key_sees_no_actions_and_cannot_post(env: None) -> None:
    async with inbox(READ_KEY) as client:
        job_id = await send(client, body("bob", "Menu", ("n1", "Fay", "Is the menu ready?")))
        draft_id = (await wait_job(client, job_id, "bob"))["draft_message_id"]
        listing = await client.get("/ui/threads", params={"user": "bob"})
        assert "Read-only key" in listing.text  # the header names the key and its role
        assert "reader" in listing.text
        page = await client.get(thread_link(listing, "Menu"))
        assert 'id="draft-text"' in page.text
        assert "Signed in with the read-only key" in page.text
        assert 'action="/ui/drafts/' not in page.text
        assert 'action="/ui/jobs/' not in page.text
        token = csrf(page)  # the sign-out form's
        for action in ("reject", "sent", "feedback"):
            refused = await client.post(
                f"/ui/drafts/{draft_id}/{action}",
                data={"user": "bob", "csrf_token": token, "feedback": "x"},
            )
            assert refused.status_code == 403, action
            assert "read-only key" in refused.text
        profile = await client.get("/ui/profile", params={"user": "bob"})
        assert '<fieldset class="plain" disabled>' in profile.text
        assert "Save profile" not in profile.text
        saved = await client.post(
            "/ui/profile", data={"user": "bob", "csrf_token": token, "display_name": "Eve"}
        )
        assert saved.status_code == 403
        drafts = await client.get("/draft-messages/", params={"user_id": "bob"}, headers=BEARER)
        assert [d["draft_message_id"] for d in drafts.json()["draft_messages"]] == [draft_id]
        assert (await client.get("/users/bob/profile", headers=BEARER)).status_code == 404
