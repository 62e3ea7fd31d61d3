"""The LLM layer through the real openai client against a local OpenAI-compatible server."""

from __future__ import annotations

import logging

import pytest
from draft_llm_stub import OpenAIStub
from draft_test_helpers import make_settings

from draft_service import (
    DraftRequest,
    LLMRequestError,
    LLMTimeoutError,
    LLMUnavailableError,
    OfflineProvider,
    OpenAIProvider,
    build_provider,
)
from draft_service.llm import backoff_delay, with_retries
from draft_service.prompt import PromptLine, available_versions, render_draft, render_revision
from platform_core.errors import ConfigurationError

TRANSCRIPT = [
    PromptLine("Alice", "2024-05-01 09:00:00", "Can we move the budget review to Friday?"),
    PromptLine("bob", "2024-05-01 09:05:00", "Let me check."),
]


def _request(**kw: object) -> DraftRequest:
    messages = render_draft(
        "v1", user_id="bob", thread_name="budget", transcript=TRANSCRIPT, related=[]
    )
    return DraftRequest(
        messages=messages,
        user_id="bob",
        thread_name="budget",
        transcript=TRANSCRIPT,
        **kw,  # type: ignore[arg-type]
    )


def _provider(llm: OpenAIStub, timeout: float = 5.0) -> OpenAIProvider:
    return OpenAIProvider(
        api_key="k",
        model="stub/model-1",
        base_url=llm.base_url,
        timeout=timeout,
        max_tokens=64,
        temperature=0.1,
    )


async def test_openai_provider_returns_text_model_and_tokens(llm: OpenAIStub) -> None:
    provider = _provider(llm)
    result = await provider.complete(_request())
    await provider.aclose()
    assert result.content.startswith("Draft 1: reply to")
    assert (result.provider, result.model) == ("openai", "stub/model-1")
    assert result.prompt_tokens
    assert result.completion_tokens
    sent = llm.script.requests[0]
    assert sent["model"] == "stub/model-1"
    assert sent["max_tokens"] == 64
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert "Can we move the budget review to Friday?" in sent["messages"][1]["content"]


@pytest.mark.parametrize(
    ("answer", "complaint"),
    [
        (b"<html>bad gateway</html>", "something other than a chat completion"),
        (b'{"choices": [{"message": {"content": 5}}]}', "something other than a chat completion"),
        (b'{"choices": []}', "empty completion"),
        (b'{"error": {"message": "upstream overloaded"}}', "empty completion"),
    ],
)
async def test_an_answer_without_a_completion_is_a_retryable_error(
    llm: OpenAIStub, answer: bytes, complaint: str
) -> None:
    llm.script.raw_answer = answer
    provider = _provider(llm)
    try:
        with pytest.raises(LLMUnavailableError, match=complaint):
            await provider.complete(_request())
    finally:
        await provider.aclose()


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_retryable_statuses_are_retried_then_succeed(llm: OpenAIStub, status: int) -> None:
    llm.script.failures.extend([status, status])
    provider = _provider(llm)
    result = await with_retries(
        lambda: provider.complete(_request()), attempts=3, base=0.01, cap=0.02
    )
    await provider.aclose()
    assert len(llm.script.requests) == 3
    assert result.content.startswith("Draft 3")


async def test_persistent_500_raises_after_the_last_attempt(llm: OpenAIStub) -> None:
    llm.script.always_status = 500
    provider = _provider(llm)
    with pytest.raises(LLMUnavailableError, match="answered 500") as info:
        await with_retries(lambda: provider.complete(_request()), attempts=3, base=0.01, cap=0.02)
    await provider.aclose()
    assert len(llm.script.requests) == 3
    assert info.value.__cause__ is not None


async def test_timeout_is_a_retryable_llm_timeout(llm: OpenAIStub) -> None:
    llm.script.delay = 1.0
    provider = _provider(llm, timeout=0.2)
    with pytest.raises(LLMTimeoutError, match="DRAFTS_LLM_TIMEOUT"):
        await provider.complete(_request())
    await provider.aclose()


async def test_refused_request_is_not_retried(llm: OpenAIStub) -> None:
    llm.script.always_status = 401
    provider = _provider(llm)
    with pytest.raises(LLMRequestError, match="OPENROUTER_API_KEY"):
        await with_retries(lambda: provider.complete(_request()), attempts=4, base=0.01, cap=0.02)
    await provider.aclose()
    assert len(llm.script.requests) == 1


async def test_unreachable_endpoint_is_unavailable() -> None:
    provider = OpenAIProvider(
        api_key="k",
        model="m",
        base_url="http://127.0.0.1:9/v1",
        timeout=2,
        max_tokens=8,
        temperature=0,
    )
    with pytest.raises(LLMUnavailableError, match="DRAFTS_LLM_BASE_URL"):
        await provider.complete(_request())
    await provider.aclose()


async def test_offline_provider_is_deterministic_and_names_itself() -> None:
    provider = OfflineProvider()
    first = await provider.complete(_request())
    again = await provider.complete(_request())
    assert first == again
    assert first.provider == "offline"
    assert first.model == "offline-template"
    assert "Alice" in first.content
    assert "budget review" in first.content
    revised = await provider.complete(_request(current_draft=first.content, feedback="shorter"))
    assert "shorter" in revised.content


def test_auto_picks_offline_without_key_and_logs_it(
    caplog: pytest.LogCaptureFixture, sqlite_url: str
) -> None:
    settings = make_settings(sqlite_url, llm_provider="auto", openrouter_api_key=None)
    with caplog.at_level(logging.WARNING):
        provider = build_provider(settings)
    assert isinstance(provider, OfflineProvider)
    assert any("llm_offline" in str(r.msg) for r in caplog.records)


def test_openai_without_key_names_the_variable(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, llm_provider="openai", openrouter_api_key=None)
    with pytest.raises(ConfigurationError, match="OPENROUTER_API_KEY") as info:
        build_provider(settings)
    assert info.value.setting == "OPENROUTER_API_KEY"


def test_auto_picks_openai_with_key(sqlite_url: str, llm: OpenAIStub) -> None:
    settings = make_settings(sqlite_url, llm, llm_provider="auto")
    assert isinstance(build_provider(settings), OpenAIProvider)


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff_delay(n, 0.1, 0.5) for n in range(1, 8)]
    assert 0.05 <= delays[0] <= 0.1
    assert all(d <= 0.5 for d in delays)
    assert delays[-1] >= 0.25


def test_prompt_versions_are_package_files() -> None:
    assert "v1" in available_versions()
    msgs = render_revision(
        "v1",
        user_id="bob",
        thread_name="budget",
        transcript=TRANSCRIPT,
        related=[PromptLine("Carol", "2024-04-01", "Budget was approved in April")],
        draft="Sure, Friday works.",
        feedback="mention the April approval",
    )
    assert "Budget was approved in April" in msgs[1].content
    assert "mention the April approval" in msgs[1].content
    with pytest.raises(ConfigurationError, match="DRAFTS_PROMPT_VERSION"):
        render_draft("v999", user_id="b", thread_name="t", transcript=TRANSCRIPT, related=[])


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from draft_service import DraftSettings

    monkeypatch.setenv("DRAFTS_LLM_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="DRAFTS_LLM_TIMEOUT"):
        DraftSettings.load()
    monkeypatch.delenv("DRAFTS_LLM_TIMEOUT")
    monkeypatch.setenv("DRAFTS_DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigurationError, match="DRAFTS_DATABASE_URL"):
        DraftSettings.load()
