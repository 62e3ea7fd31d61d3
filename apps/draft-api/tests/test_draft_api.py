"""The deployable serves the draft service configured from the environment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from draft_api import DraftApiSettings, create_app
from platform_core.errors import ConfigurationError


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    monkeypatch.setenv("DRAFTS_API_KEY", "k")
    monkeypatch.setenv("DRAFTS_LLM_PROVIDER", "offline")
    monkeypatch.delenv("DRAFTS_REDIS_URL", raising=False)


async def test_embedded_app_drafts_offline(env: None) -> None:
    body = {
        "user_id": "bob",
        "thread_name": "hello",
        "messages": [
            {
                "message_id": "1",
                "sender_name": "Ann",
                "date": "2024-05-01",
                "time": "10:00:00",
                "message_content": "Are we still on for tomorrow?",
            }
        ],
    }
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport, base_url="http://api", headers={"Authorization": "Bearer k"}
        ) as client,
    ):
        assert (await client.get("/")).json() == {"status": "ok"}
        assert (await client.get("/health/ready")).status_code == 200
        r = await client.post("/send-messages/", json=body)
        assert r.status_code == 202
        job_id = r.json()["job_id"]
        for _ in range(500):
            job = (await client.get(f"/jobs/{job_id}", params={"user_id": "bob"})).json()
            if job["status"] == "done":
                break
            await asyncio.sleep(0.02)
        drafts = (await client.get("/draft-messages/", params={"user_id": "bob"})).json()
    assert len(drafts["draft_messages"]) == 1
    assert "Ann" in drafts["draft_messages"][0]["draft_message_content"]


def test_bad_port_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFT_API_PORT", "99999")
    with pytest.raises(ConfigurationError, match="DRAFT_API_PORT"):
        DraftApiSettings.load()


def test_missing_key_is_refused(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRAFTS_API_KEY")
    with pytest.raises(ConfigurationError, match="DRAFTS_API_KEY"):
        create_app()


def test_a_missing_llm_key_stops_the_server_with_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTS_", "OPENROUTER_"))}
    env.update(
        DRAFTS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'd.db'}",
        DRAFTS_API_KEY="k",
        DRAFTS_LLM_PROVIDER="openai",
        DRAFT_API_PORT="1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "draft_api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "DRAFTS_LLM_API_KEY" in done.stderr
