"""Configuration fails early: one line and exit 1 naming the setting; readiness reports the LLM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from draft_llm_stub import OpenAIStub
from draft_test_helpers import make_settings, running


def _serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTS_", "OPENROUTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "draft_service", "serve", "--port", "0"],
        env={**base, "DRAFTS_AUTH_DISABLED": "true", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"DRAFTS_LLM_PROVIDER": "openai"}, "DRAFTS_LLM_API_KEY"),
        ({"DRAFTS_LLM_BASE_URL": "127.0.0.1:8080/v1"}, "DRAFTS_LLM_BASE_URL"),
        (
            {"DRAFTS_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:9/x"},
            "DRAFTS_DATABASE_URL",
        ),
        ({"ACTIVITY_STORE_BACKEND": "bogus"}, "ACTIVITY_STORE_BACKEND"),
    ],
)
def test_a_bad_start_is_one_line_and_exit_1(
    tmp_path: Path, env: dict[str, str], setting: str
) -> None:
    env = {"DRAFTS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'd.db'}", **env}
    done = _serve(env)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert setting in lines[0]
    assert "Traceback" not in done.stderr


async def test_readiness_reports_the_llm_degraded_not_down(
    sqlite_url: str, llm: OpenAIStub
) -> None:
    async with running(make_settings(sqlite_url, llm)) as svc:
        ready = await svc.client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "healthy"
        assert ready.json()["checks"]["llm"]["status"] == "pass"
        llm.script.models = ["SmolLM2-135M-Instruct"]  # the configured model is not served
        ready = await svc.client.get("/health/ready")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "degraded"
        error = body["checks"]["llm"]["error"]
        assert "stub/model-1" in error
        assert "SmolLM2-135M-Instruct" in error
        assert "DRAFTS_LLM_MODEL" in error
    unreachable = make_settings(sqlite_url, llm, llm_base_url="http://127.0.0.1:9/v1")
    async with running(unreachable) as svc:
        body = (await svc.client.get("/health/ready")).json()
        assert body["status"] == "degraded"
        assert "DRAFTS_LLM_BASE_URL" in body["checks"]["llm"]["error"]


async def test_opening_the_pool_at_start_is_only_a_head_start(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``open_pool`` fills the pool; an unreachable database is a warning, not a failed start
    (connections then open on demand and readiness reports the database)."""
    from draft_service.db import create_engine
    from draft_service.db.engine import POOL_SIZE, open_pool

    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    down = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/x")
    try:
        await open_pool(engine)
        assert engine.pool.checkedin() == POOL_SIZE  # type: ignore[attr-defined]
        await open_pool(down)
        assert any("pool_not_opened" in str(r.msg) for r in caplog.records)
    finally:
        await engine.dispose()
        await down.dispose()
