"""The draft API's web sign-in (api-core's WebUI checked against DRAFTS_API_KEY)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from draft_api import create_app


async def test_the_service_key_signs_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    monkeypatch.setenv("DRAFTS_API_KEY", "draft-service-key-0123456789")
    monkeypatch.setenv("DRAFTS_SESSION_SECRET", "y" * 40)
    monkeypatch.setenv("DRAFTS_LLM_PROVIDER", "offline")
    monkeypatch.delenv("DRAFTS_REDIS_URL", raising=False)
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://drafts") as client,
    ):
        attempts = (("draft-service-key-wrong", 401), ("draft-service-key-0123456789", 303))
        for key, status in attempts:
            form = await client.get("/ui/sign-in")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            signed = await client.post(
                "/ui/sign-in", data={"csrf_token": token.group(1), "api_key": key}
            )
            assert signed.status_code == status
        home = await client.get("/ui/")
        assert home.status_code == 200
        assert "Draft inbox" in home.text
        assert "Service key" in home.text  # the header names who signed in
        assert "draft-service-key-0123456789" not in home.text
        assert "draft-service-key-0123456789" not in signed.headers["set-cookie"]
