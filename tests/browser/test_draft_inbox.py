"""The draft review inbox in real Chromium: drafts appear live, feedback streams a revision,
reject and retry, copy, CSRF-less and cross-user posts refused, axe-core on every page and
screenshots at 1280 and 375 px, light and dark.

The draft API runs in a child process (uvicorn) against the local OpenAI-compatible test
server, which streams its answers word by word.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    DRAFTS_KEY,
    Served,
    _serve,
    axe_violations,
    chromium_path,
    screenshot,
)

sys.path.insert(0, str(Path(__file__).parents[2] / "packages" / "draft-service" / "tests"))

from draft_llm_stub import OpenAIStub

pytestmark = pytest.mark.timeout(240)

READ_KEY = "drafts-browser-read-key-" + "Rk2" * 10

FIRST = "Hi Ann, yes, lunch at noon still works for me. See you at the usual place."
REVISED = (
    "Dear Ann, I am glad to confirm that lunch at noon still works for me. I look forward to "
    "seeing you at the usual place, and I will bring the notes from Monday's meeting."
)


@pytest.fixture(scope="module")
def llm() -> Iterator[OpenAIStub]:
    """The local OpenAI-compatible server the app drafts with."""
    stub = OpenAIStub().start()
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def inbox_app(llm: OpenAIStub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The draft API on a free port, drafting with the stub, its web pages signed in by key."""
    chromium_path()
    tmp = tmp_path_factory.mktemp("inbox")
    env = {
        "DRAFTS_LOG_LEVEL": "INFO",
        "DRAFTS_LOG_FORMAT": "json",
        "DRAFTS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/drafts.db",
        "DRAFTS_API_KEY": DRAFTS_KEY,
        "DRAFTS_READ_ONLY_API_KEY": READ_KEY,
        "DRAFTS_LLM_PROVIDER": "openai",
        "DRAFTS_LLM_API_KEY": "stub-key",
        "DRAFTS_LLM_MODEL": "stub/model-1",
        "DRAFTS_LLM_BASE_URL": llm.base_url,
        "DRAFTS_LLM_DEADLINE": "6",
        "DRAFTS_LLM_BACKOFF_BASE": "0.05",
        "DRAFTS_LLM_BACKOFF_CAP": "0.2",
        "DRAFTS_RELATED_LIMIT": "0",
    }
    app = _serve("inbox", "draft_api.main:create_app", DRAFTS_KEY, env, tmp)
    yield app
    app.process.terminate()
    try:
        app.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait()


@pytest.fixture
def page(browser: Any, inbox_app: Served) -> Iterator[Any]:
    """A signed-in page in a fresh context at desktop width; other hosts are blocked."""
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 900},
        base_url=inbox_app.base_url,
        permissions=["clipboard-read", "clipboard-write"],
    )
    outside: list[str] = []

    def guard(route: Any) -> None:
        host = route.request.url.split("/")[2].split(":")[0]
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", guard)
    tab = ctx.new_page()
    tab.goto("/ui/")
    tab.get_by_label("API key").fill(inbox_app.key)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(re.compile(r"/ui/$"))
    yield tab
    assert outside == [], f"pages tried to reach other hosts: {outside}"
    ctx.close()


def api(app: Served, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call the draft API with the service key."""
    request = urllib.request.Request(
        app.base_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {app.key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def send(app: Served, user: str, thread: str, *messages: tuple[str, str, str]) -> str:
    body = {
        "user_id": user,
        "thread_name": thread,
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
    job_id: str = api(app, "POST", "/send-messages/", body)["job_id"]
    return job_id


def wait_job(app: Served, job_id: str, user: str, limit: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        job: dict[str, Any] = api(app, "GET", f"/jobs/{job_id}?user_id={user}")
        if job["status"] in ("done", "truncated", "failed", "discarded"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not finish in {limit} s: {job}")
        time.sleep(0.05)


def no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide, wider than the screen"


def check_page(page: Any, name: str) -> None:
    """axe-core (no serious or critical violations) in light and dark at 1280 and 375 px, no
    sideways scrolling at 375, and screenshots of each under ``.artifacts/ui/``."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        suffix = "" if scheme == "light" else "-dark"
        for width, height in ((1280, 900), (375, 740)):
            page.set_viewport_size({"width": width, "height": height})
            if width == 375:
                no_horizontal_scroll(page)
            assert axe_violations(page) == [], f"{name} {scheme} at {width} px"
            screenshot(page, f"inbox-{name}{suffix}-{width}")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})


def row(page: Any, thread: str) -> Any:
    return page.locator(".thread-row", has=page.get_by_role("link", name=thread, exact=True))


def test_messages_sent_through_the_api_become_a_ready_draft_live(
    page: Any, inbox_app: Served, llm: OpenAIStub
) -> None:
    page.goto("/ui/threads?user=live-user")
    assert page.get_by_text("No threads yet").is_visible()
    page.wait_for_function("document.querySelector('[sse-connect]') !== null")
    page.evaluate("window.notReloaded = true")
    # Every status the list shows, however briefly.
    page.evaluate(
        """() => { window.seen = [];
        new MutationObserver(() => document.querySelectorAll('#threads .status')
            .forEach(s => window.seen.push(s.textContent)))
            .observe(document.getElementById('threads'), {childList: true, subtree: true}); }"""
    )
    time.sleep(0.5)  # the event stream connects
    llm.script.token_delay = 0.1
    try:
        send(inbox_app, "live-user", "Lunch", ("m1", "Ann", "Are we still on for lunch?"))
        line = row(page, "Lunch")
        line.wait_for(timeout=15_000)
        line.locator(".status-ready").wait_for(timeout=20_000)
    finally:
        llm.script.token_delay = 0.0
    assert page.evaluate("window.notReloaded === true"), "the page reloaded"
    assert page.evaluate("window.seen")[0] == "Drafting", "the thread did not show as drafting"
    assert "Are we still on for lunch?" in line.inner_text()
    send(inbox_app, "live-user", "Parcel", ("p1", "Bo", "Where is my parcel?"))
    row(page, "Parcel").locator(".status-ready").wait_for(timeout=20_000)
    names = page.locator(".thread-name").all_inner_texts()
    assert names[:2] == ["Parcel", "Lunch"], "newest first"
    check_page(page, "threads")

    page.goto("/ui/")
    assert page.get_by_role("link", name="live-user").is_visible()
    check_page(page, "start")


def test_feedback_in_the_page_streams_a_new_revision(
    page: Any, inbox_app: Served, llm: OpenAIStub
) -> None:
    llm.script.answers.append(FIRST)
    job_id = send(inbox_app, "stream-user", "Lunch", ("s1", "Ann", "Are we still on for lunch?"))
    assert wait_job(inbox_app, job_id, "stream-user")["status"] == "done"
    page.goto("/ui/threads?user=stream-user")
    page.get_by_role("link", name="Lunch", exact=True).click()
    page.wait_for_url(re.compile(r"/ui/threads/\d+"))
    assert page.locator("#draft-text").inner_text() == FIRST

    llm.script.answers.append(REVISED)
    llm.script.token_delay = 0.06
    lengths: list[int] = []
    states: list[str] = []
    try:
        page.get_by_label("Feedback for a new revision").fill("More formal, and mention the notes")
        page.get_by_role("button", name="Revise").click()
        page.locator(".streaming").wait_for(timeout=10_000)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and page.locator(".streaming").count():
            states += page.locator(".streaming .stream-state").all_inner_texts()
            text = page.locator("#stream-text").all_inner_texts()
            if text:
                lengths.append(len(text[0]))
                if len(lengths) == 8:
                    screenshot(page, "inbox-thread-streaming-1280", full_page=False)
            time.sleep(0.05)
    finally:
        llm.script.token_delay = 0.0
    assert "The model is writing" in " ".join(states), f"no live job state: {states}"
    growing = sorted({n for n in lengths if n})
    assert len(growing) >= 3, f"the revision did not stream in: lengths seen {lengths}"
    page.get_by_text("Revision 2", exact=True).wait_for(timeout=15_000)
    assert page.locator("#draft-text").inner_text() == REVISED
    latest = page.locator(".lineage details").first
    assert latest.locator("ins").count() > 0
    assert latest.locator("del").count() > 0
    assert "More formal, and mention the notes" in latest.inner_text()
    assert page.locator(".provenance").get_by_text("stub/model-1").is_visible()
    assert page.locator(".message.used").count() == 1

    check_page(page, "thread")
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied the draft to the clipboard.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == REVISED

    page.get_by_role("button", name="Mark sent").click()
    page.wait_for_url(re.compile(r"/ui/threads/\d+"))
    assert page.locator("#draft-panel .status").inner_text() == "Sent"
    assert page.get_by_role("button", name="Reject").count() == 0


def test_a_failed_draft_is_retried_and_a_draft_is_rejected(
    page: Any, inbox_app: Served, llm: OpenAIStub
) -> None:
    llm.script.always_status = 500
    try:
        job_id = send(inbox_app, "retry-user", "Invoice", ("i1", "Dee", "Is invoice 7 paid?"))
        assert wait_job(inbox_app, job_id, "retry-user")["status"] == "failed"
    finally:
        llm.script.always_status = None
    page.goto("/ui/threads?user=retry-user")
    assert row(page, "Invoice").locator(".status-failed").is_visible()
    page.get_by_role("link", name="Invoice", exact=True).click()
    page.wait_for_url(re.compile(r"/ui/threads/\d+"))  # is_visible() does not wait for it
    failed = page.get_by_role("alert").get_by_text("The draft failed")
    failed.wait_for(timeout=10_000)
    assert failed.is_visible()
    check_page(page, "thread-failed")
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(re.compile(r"/ui/threads/\d+"))
    page.locator("#draft-text").wait_for(timeout=20_000)
    assert page.locator("#draft-panel .status").inner_text() == "Ready"

    page.get_by_role("button", name="Reject").click()
    page.wait_for_url(re.compile(r"/ui/threads/\d+"))
    assert page.locator("#draft-panel .status").inner_text() == "Rejected"
    page.goto("/ui/threads?user=retry-user")
    assert row(page, "Invoice").locator(".status-rejected").is_visible()


def test_posts_without_csrf_or_for_another_user_are_refused(page: Any, inbox_app: Served) -> None:
    job_id = send(inbox_app, "owner", "Keys", ("k1", "Cy", "Where are the keys?"))
    draft_id = wait_job(inbox_app, job_id, "owner")["draft_message_id"]
    page.goto("/ui/threads?user=owner")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    post = """async ([url, fields]) => {
        const r = await fetch(url, {method: 'POST', body: new URLSearchParams(fields)});
        return [r.status, await r.text()];
    }"""
    status, text = page.evaluate(post, [f"/ui/drafts/{draft_id}/reject", {"user": "owner"}])
    assert status == 403
    assert "CSRF" in text
    for action in ("reject", "sent", "feedback"):
        fields = {"user": "intruder", "csrf_token": token, "feedback": "x"}
        status, text = page.evaluate(post, [f"/ui/drafts/{draft_id}/{action}", fields])
        assert status == 404, action
        assert "nothing was changed" in text
    fields = {"user": "intruder", "csrf_token": token}
    status, _ = page.evaluate(post, [f"/ui/jobs/{job_id}/retry", fields])
    assert status == 404
    current = api(inbox_app, "GET", "/draft-messages/?user_id=owner")["draft_messages"]
    assert [d["draft_message_id"] for d in current] == [draft_id]

    page.goto("/ui/threads/1?user=intruder")
    assert page.get_by_role("heading", name="Thread not found").is_visible()
    check_page(page, "not-found")


def test_the_writer_profile_is_edited_with_the_keyboard(page: Any, inbox_app: Served) -> None:
    page.goto("/ui/profile?user=profile-user")
    page.get_by_label("Display name").focus()
    page.keyboard.type("Pat Lee")
    page.keyboard.press("Tab")
    page.keyboard.type("Support, Acme")
    page.keyboard.press("Tab")
    page.keyboard.type("warm and brief")
    page.keyboard.press("Tab")
    page.keyboard.type("Pat")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "[document.activeElement.textContent,"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["Save profile", "solid"], "the focused button shows no focus ring"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"saved=1"))
    assert page.get_by_role("status").inner_text().startswith("Profile saved")
    assert page.get_by_label("Display name").input_value() == "Pat Lee"
    assert api(inbox_app, "GET", "/users/profile-user/profile")["tone"] == "warm and brief"
    check_page(page, "profile")


def test_the_pages_work_without_javascript(browser: Any, inbox_app: Served) -> None:
    job_id = send(inbox_app, "nojs-user", "Quote", ("q1", "Eli", "Can you send a quote?"))
    assert wait_job(inbox_app, job_id, "nojs-user")["status"] == "done"
    ctx = browser.new_context(java_script_enabled=False, base_url=inbox_app.base_url)
    try:
        page = ctx.new_page()
        page.goto("/ui/")
        page.get_by_label("API key").fill(inbox_app.key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/ui/$"))
        page.get_by_label("User id").fill("nojs-user")
        page.get_by_role("button", name="Open inbox").click()
        page.wait_for_url(re.compile(r"/ui/threads\?user=nojs-user$"))
        assert row(page, "Quote").locator(".status-ready").is_visible()
        page.get_by_role("link", name="Quote", exact=True).click()
        draft = page.locator("#draft-text").inner_text()
        assert draft
        assert not page.get_by_role("button", name="Copy").is_visible()  # needs the clipboard
        assert page.get_by_text("Select the text to copy it").is_visible()
        page.get_by_label("Feedback for a new revision").fill("Shorter, please")
        page.get_by_role("button", name="Revise").click()
        page.wait_for_url(re.compile(r"/ui/threads/\d+"))
        deadline = time.monotonic() + 20
        while page.get_by_text("Revision 2", exact=True).count() == 0:
            assert time.monotonic() < deadline, "the revision did not show after reloads"
            time.sleep(0.3)
            page.reload()
        assert "Shorter, please" in page.locator(".lineage").inner_text()
    finally:
        ctx.close()


def test_a_reader_key_sees_no_action_buttons(browser: Any, inbox_app: Served) -> None:
    job_id = send(inbox_app, "reader-user", "Menu", ("r1", "Fay", "Is the menu ready?"))
    assert wait_job(inbox_app, job_id, "reader-user")["status"] == "done"
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=inbox_app.base_url)
    try:
        page = ctx.new_page()
        page.goto("/ui/")
        page.get_by_label("API key").fill(READ_KEY)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/ui/$"))
        assert page.locator(".who").get_by_text("reader").is_visible()
        page.goto("/ui/threads?user=reader-user")
        page.get_by_role("link", name="Menu", exact=True).click()
        assert page.locator("#draft-text").inner_text()
        assert page.get_by_role("button", name="Copy").is_visible()
        for name in ("Mark sent", "Reject", "Revise", "Retry"):
            assert page.get_by_role("button", name=name).count() == 0, name
        assert page.get_by_label("Feedback for a new revision").count() == 0
        check_page(page, "thread-reader")
        page.goto("/ui/profile?user=reader-user")
        assert page.get_by_label("Display name").is_disabled()
        assert page.get_by_role("button", name="Save profile").count() == 0
    finally:
        ctx.close()
