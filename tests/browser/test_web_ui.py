"""The web layer in real Chromium, on both apps: sign-in, sign-out, CSRF, offline API docs,
accessibility (axe-core) and layout at 1280 and 375 px."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Served, axe_violations, screenshot

pytestmark = pytest.mark.timeout(180)


def _sign_in(page: Any, key: str) -> None:
    page.goto("/ui/")
    assert page.url.endswith("/ui/sign-in?next=/ui/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ui/$"))


LANDING = {"taskqueue": "Overview", "drafts": "Draft inbox"}
"""The heading of an app's landing page when it is not api-core's "Welcome" (the task
dashboard's overview, the draft inbox's start page)."""


def _landing(served: Served) -> re.Pattern[str]:
    return re.compile(LANDING.get(served.name, "Welcome"))


def _no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide, wider than the screen"


def _check_page(page: Any, name: str) -> None:
    """axe in light and dark at desktop width, screenshots at 1280 and 375 px, no sideways
    scrolling at 375."""
    assert axe_violations(page) == [], name
    screenshot(page, f"{name}-1280")
    page.emulate_media(color_scheme="dark")
    assert axe_violations(page) == [], f"{name} in dark mode"
    screenshot(page, f"{name}-dark-1280")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 375, "height": 740})
    _no_horizontal_scroll(page)
    assert axe_violations(page) == [], f"{name} at 375 px"
    screenshot(page, f"{name}-375")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_sign_in_shows_identity_and_sign_out_ends_the_session(context: Any, served: Served) -> None:
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto("/ui/")
    assert page.get_by_role("heading", name=re.compile("Sign in")).is_visible()
    _check_page(page, f"{served.name}-sign-in")

    page.get_by_label("API key").fill(served.key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ui/$"))
    assert page.get_by_role("heading", name=_landing(served)).is_visible()
    assert page.get_by_role("link", name="API docs").get_attribute("href") == "/docs"
    html = page.content()
    assert served.key not in html
    _check_page(page, f"{served.name}-home")

    session = [c for c in context.cookies() if c["name"].endswith("_session")]
    assert len(session) == 1
    assert session[0]["httpOnly"] is True
    assert session[0]["sameSite"] == "Strict"
    assert served.key not in session[0]["value"]

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/ui/sign-in\?signed_out=1$"))
    assert page.get_by_role("status").inner_text() == "You have signed out."
    assert not [c for c in context.cookies() if c["name"].endswith("_session")]
    page.goto("/ui/")
    assert "/ui/sign-in" in page.url, "the signed-out browser still reached the landing page"
    assert not [u for u in urls if served.key in u]


def test_wrong_key_shows_an_error_and_sets_no_session(context: Any, served: Served) -> None:
    page = context.new_page()
    page.goto("/ui/sign-in")
    page.get_by_label("API key").fill(served.key[:-4] + "XXXX")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    assert "unknown or revoked" in alert.inner_text()
    assert page.get_by_label("API key").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("API key").input_value() == "", "the wrong key was echoed back"
    assert not [c for c in context.cookies() if c["name"].endswith("_session")]
    _check_page(page, f"{served.name}-sign-in-error")


def test_keyboard_only_sign_in_with_visible_focus(context: Any, served: Served) -> None:
    page = context.new_page()
    page.goto("/ui/sign-in")
    assert page.evaluate("document.activeElement.id") == "api-key", "the key field has no focus"
    page.keyboard.type(served.key)
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.textContent.trim(), s.outlineStyle, s.outlineWidth]; })()"
    )
    assert focused[0] == "Sign in"
    assert focused[1] != "none", f"no visible focus ring: {focused}"
    assert focused[2] != "0px", f"no visible focus ring: {focused}"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/ui/$"))
    page.keyboard.press("Tab")
    skip = page.evaluate(
        "(() => { const r = document.activeElement.getBoundingClientRect();"
        " return [document.activeElement.textContent, r.left >= 0 && r.top >= 0]; })()"
    )
    assert skip == ["Skip to main content", True], "the skip link is not first or not shown"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_a_form_post_without_its_csrf_token_is_refused(context: Any, served: Served) -> None:
    page = context.new_page()
    _sign_in(page, served.key)
    page.evaluate("document.querySelector('form[action$=\"sign-out\"] [name=csrf_token]').remove()")
    page.get_by_role("button", name="Sign out").click()
    assert page.get_by_role("heading", name="Request refused").is_visible()
    assert "CSRF" in page.get_by_role("alert").inner_text()
    _check_page(page, f"{served.name}-csrf-refused")
    page.goto("/ui/")
    assert page.get_by_role("heading", name=_landing(served)).is_visible(), (
        "the refused sign-out signed the user out anyway"
    )
    response = page.request.post("/ui/sign-out", form={"csrf_token": "forged"})
    assert response.status == 403


def test_docs_and_redoc_render_with_the_network_blocked(context: Any, served: Served) -> None:
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto("/docs")
    schema = page.request.get("/openapi.json").json()
    operations = sum(len(item) for item in schema["paths"].values())
    page.locator(".opblock").first.wait_for(timeout=30_000)
    assert page.locator(".opblock").count() == operations
    screenshot(page, f"{served.name}-docs-1280", full_page=False)
    page.goto("/redoc")
    page.locator("[data-section-id^='operation']").first.wait_for(timeout=30_000)
    assert page.locator("[data-section-id^='operation']").count() > 0
    screenshot(page, f"{served.name}-redoc-1280", full_page=False)
    page.goto("/ui/sign-in")
    assert page.evaluate("typeof window.htmx") == "object", "htmx did not load"
    assert context.outside == [], f"pages tried to reach other hosts: {context.outside}"
    # The one refusal expected: ReDoc's badge logo, which the pages' CSP keeps off the CDN.
    unexpected = [e for e in errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e]
    assert unexpected == [], unexpected


def test_the_key_never_reaches_the_server_logs(context: Any, served: Served) -> None:
    page = context.new_page()
    _sign_in(page, served.key)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"signed_out=1$"))
    log = served.log_text()
    assert "web sign-in" in log, "the server log was not captured"
    assert served.key not in log
