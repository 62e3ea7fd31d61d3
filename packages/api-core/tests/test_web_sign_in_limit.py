"""Failed web sign-ins are limited per client address: 429 with Retry-After, even for the
right key, until the window ends; an app can hand in its own limiter to share the budget."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI, Request

from api_core import ApiSettings, create_app
from api_core.ratelimit import InProcessRateLimiter
from api_core.web import WebIdentity, WebUI
from api_core.web.ui import SIGN_IN_FAILURES_PER_MINUTE

KEY = "limit-key-" + "q3" * 16


async def verify(_: Request, key: str) -> WebIdentity | None:
    return WebIdentity(subject="k", label="ops") if key == KEY else None


def build(limiter: InProcessRateLimiter | None = None) -> FastAPI:
    config = ApiSettings.load(service_name="demo", session_secret="s" * 40)
    app = create_app(config, instrument=False)
    WebUI(config, verify, failed_sign_ins=limiter).install(app)
    return app


async def _attempt(client: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await client.get("/ui/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return await client.post("/ui/sign-in", data={"csrf_token": token.group(1), "api_key": key})


async def test_the_default_limit_refuses_after_ten_failures() -> None:
    transport = httpx.ASGITransport(app=build())
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        for _ in range(SIGN_IN_FAILURES_PER_MINUTE):
            assert (await _attempt(client, "wrong")).status_code == 401
        refused = await _attempt(client, KEY)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 61
        assert "Too many failed sign-ins" in refused.text
        assert not any(c.endswith("_session") for c in client.cookies)


async def test_an_apps_limiter_is_used_and_successes_do_not_count() -> None:
    limiter = InProcessRateLimiter(2)
    transport = httpx.ASGITransport(app=build(limiter))
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        for _ in range(3):
            assert (await _attempt(client, KEY)).status_code == 303
            client.cookies.clear()
        assert (await _attempt(client, "wrong")).status_code == 401
        assert await limiter.retry_after("127.0.0.1") is None
        assert (await _attempt(client, "wrong")).status_code == 401
        assert await limiter.retry_after("127.0.0.1") is not None
        assert (await _attempt(client, KEY)).status_code == 429
