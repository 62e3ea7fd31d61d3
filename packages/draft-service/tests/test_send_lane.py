"""POST /send-messages/ answers the same with and without the lane that skips FastAPI."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from draft_test_helpers import API_KEY, make_settings, thread

from draft_service import build_runtime, create_draft_app
from draft_service.api import _authorize
from draft_service.send_lane import SendLane

READ_KEY = "read-only-key"
_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _body(user: str, name: str, mid: str = "m1") -> dict[str, Any]:
    return thread(user, name, (mid, "Ann", "Can you send the report before Friday?"))


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for at in range(0, len(data), 500):
        yield data[at : at + 500]


def _requests() -> list[tuple[str, dict[str, Any]]]:
    key = {"Authorization": f"Bearer {API_KEY}"}
    ok = json.dumps(_body("bob", "t1")).encode()
    big = json.dumps(_body("bob", "t9", "m9") | {"pad": "x" * 5000}).encode()
    nul = json.dumps(_body("bob", "t2") | {"thread_name": "a\x00b"}).encode()
    lone = json.dumps(_body("bob", "t2") | {"user_id": "b\ud800"}).encode()
    json_type = {"content-type": "application/json"}
    return [
        ("POST", {"content": ok, "headers": key | json_type}),
        ("POST", {"content": ok, "headers": key | json_type}),  # a resend: the same job
        ("POST", {"json": _body("bob", "t1", "m2"), "headers": key}),  # a new version
        ("POST", {"content": ok, "headers": json_type}),  # no key
        ("POST", {"content": ok, "headers": {"Authorization": f"Basic {API_KEY}"} | json_type}),
        ("POST", {"content": ok, "headers": {"Authorization": "Bearer wrong"} | json_type}),
        ("POST", {"content": ok, "headers": {"Authorization": f"Bearer {READ_KEY}"} | json_type}),
        ("POST", {"content": ok, "headers": {"Authorization": f"bearer  {API_KEY} "} | json_type}),
        ("POST", {"content": ok, "headers": key | {"content-type": "text/plain"}}),
        ("POST", {"content": ok, "headers": key}),  # no content type: refused (strict)
        (
            "POST",
            {
                "json": _body("eve", "t3"),
                "headers": key | {"content-type": "application/json; charset=utf-8"},
            },
        ),
        ("POST", {"content": b'{"user_id": "bob",', "headers": key | json_type}),
        ("POST", {"content": b"", "headers": key | json_type}),
        ("POST", {"content": b"\xff\xfe{}", "headers": key | json_type}),
        ("POST", {"content": b"[1, 2]", "headers": key | json_type}),
        ("POST", {"content": nul, "headers": key | json_type}),
        ("POST", {"content": lone, "headers": key | json_type}),
        ("POST", {"json": _body("bob", "t4") | {"extra": 1}, "headers": key}),
        ("POST", {"json": {"user_id": "bob"}, "headers": key}),
        ("POST", {"content": big, "headers": key | json_type}),  # declared length over the limit
        ("POST", {"content": _chunks(big), "headers": key | json_type}),  # chunked, over it
        ("GET", {"headers": key}),
        ("POST", {"json": _body("ann", "t5"), "headers": key, "url": "/send-messages"}),
        ("POST", {"json": _body("ann", "t6"), "headers": key}),
        ("POST", {"json": _body("bob", "t7"), "headers": key}),  # bob's fifth write: over the limit
    ]


async def _answers(database: Path, *, lane: bool) -> list[tuple[int, dict[str, str], str]]:
    settings = make_settings(
        f"sqlite+aiosqlite:///{database}",
        read_only_api_key=READ_KEY,
        rate_limit_per_minute=4,
        max_body_size=4000,
    )
    runtime = await build_runtime(settings, consume=False)
    app = create_draft_app(settings, runtime=runtime)
    if not lane:
        app.router.routes[:] = [r for r in app.router.routes if not isinstance(r, SendLane)]
    answers = []
    jobs: dict[str, str] = {}

    def same_ids(text: str) -> str:
        """Job ids and the rate limit's seconds to wait differ between the runs."""
        text = _JOB_ID.sub(lambda m: jobs.setdefault(m.group(), f"job-{len(jobs)}"), text)
        return re.sub(r"retry after \d+ s", "(wait)", text)

    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://draft.test") as c:
            for i, (method, kwargs) in enumerate(_requests()):
                url = kwargs.pop("url", "/send-messages/")
                kwargs["headers"] = kwargs["headers"] | {"X-Request-ID": f"request-{i}"}
                r = await c.request(method, url, **kwargs)
                headers = {k: same_ids(v) for k, v in r.headers.items()}
                # The seconds to wait may take one digit more in one run than in the
                # other, so the length is checked against the body rather than compared.
                assert int(headers.pop("content-length")) == len(r.content)
                if "retry-after" in headers:
                    headers["retry-after"] = "(wait)"
                answers.append((r.status_code, headers, same_ids(r.text)))
    finally:
        await runtime.close()
    return answers


async def test_every_answer_is_the_fastapi_routes_own(tmp_path: Path) -> None:
    with_lane = await _answers(tmp_path / "lane.db", lane=True)
    without = await _answers(tmp_path / "route.db", lane=False)
    statuses = [a[0] for a in with_lane]
    expected = [202, 202, 202, 401, 401, 401, 403, 202, 422, 422, 202, 422, 422, 422]
    expected += [422, 422, 422, 422, 422, 413, 413, 405, 307, 202, 429]
    assert statuses == expected, statuses
    for i, (a, b) in enumerate(zip(with_lane, without, strict=True)):
        assert a == b, (i, _requests()[i][0], a, b)
    assert with_lane[0][2] == with_lane[1][2]  # the resend answered the same job


@pytest.mark.parametrize("auth_disabled", [False, True])
async def test_requests_that_will_succeed_are_answered_without_fastapi(
    sqlite_url: str, auth_disabled: bool
) -> None:
    """With the route's key check made to fail, only the lane can answer 202; with auth
    disabled, a send without a key is one of those."""
    settings = make_settings(sqlite_url)
    if auth_disabled:
        settings = make_settings(sqlite_url, api_key=None, auth_disabled=True)
    runtime = await build_runtime(settings, consume=False)
    app = create_draft_app(settings, runtime=runtime)

    async def refuse() -> None:
        raise RuntimeError("the FastAPI route ran")

    app.dependency_overrides[_authorize] = refuse
    headers = {} if auth_disabled else {"Authorization": f"Bearer {API_KEY}"}
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://d.test") as c:
            r = await c.post("/send-messages/", json=_body("bob", "t1"), headers=headers)
            assert r.status_code == 202, r.text
            assert r.headers["location"] == f"/jobs/{r.json()['job_id']}?user_id=bob"
            with pytest.raises(RuntimeError, match="FastAPI route ran"):
                await c.post("/send-messages/", json={"user_id": "bob"}, headers=headers)
    finally:
        await runtime.close()
