"""The LLM layer through the real openai client against a local OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from datetime import UTC, datetime

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
    Writer,
    build_provider,
)
from draft_service.llm import backoff_delay, with_retries
from draft_service.prompt import PromptLine, available_versions, render_draft, render_revision
from platform_core.errors import ConfigurationError
from platform_core.testing.services import free_port

TRANSCRIPT = [
    PromptLine("Alice", "2024-05-01 09:00:00", "Can we move the budget review to Friday?"),
    PromptLine("Bob Stone", "2024-05-01 09:05:00", "Let me check."),
]
BOB = Writer(display_name="Bob Stone", names=("Bob Stone", "u-17"))


def _request(**kw: object) -> DraftRequest:
    messages = render_draft(
        "v2", writer=BOB, thread_name="budget", transcript=TRANSCRIPT, related=[]
    )
    return DraftRequest(
        messages=messages,
        writer=BOB,
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


async def test_openai_provider_streams_text_and_records_model_and_finish(
    llm: OpenAIStub,
) -> None:
    provider = _provider(llm)
    pieces: list[str] = []

    async def sink(piece: str) -> None:
        pieces.append(piece)

    result = await provider.complete(_request(), on_delta=sink)
    await provider.aclose()
    assert result.content.startswith("Draft 1: reply to")
    assert "".join(pieces) == result.content
    assert len(pieces) > 3  # streamed in pieces, not one block
    assert (result.provider, result.model) == ("openai", "stub/model-1")
    assert result.served_model == "stub-served-model"
    assert result.finish_reason == "stop"
    assert result.completion_tokens
    assert result.duration_ms is not None
    assert result.duration_ms > 0
    sent = llm.script.requests[0]
    assert sent["model"] == "stub/model-1"
    assert sent["max_tokens"] == 64
    assert sent["stream"] is True
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert "Can we move the budget review to Friday?" in sent["messages"][1]["content"]


@pytest.mark.parametrize("keep_alive", [False, True])
async def test_streams_from_a_server_keeping_its_connection_reuse_it(
    llm: OpenAIStub, keep_alive: bool
) -> None:
    """A server streaming with chunked encoding (as OpenAI-compatible servers do; the stub's
    ``keep_alive``) serves later calls on the same connection; one that ends each stream by
    closing it is connected to anew for each call. The text is the same either way."""
    llm.script.keep_alive = keep_alive
    provider = _provider(llm)
    first = await provider.complete(_request())
    second = await provider.complete(_request())
    await provider.aclose()
    assert first.content.startswith("Draft 1: reply to")
    assert second.content.startswith("Draft 2: reply to")
    assert (first.finish_reason, second.finish_reason) == ("stop", "stop")
    assert llm.script.connections == (1 if keep_alive else 2)


async def test_length_finish_reason_is_reported(llm: OpenAIStub) -> None:
    llm.script.finish_reasons.append("length")
    provider = _provider(llm)
    result = await provider.complete(_request(), max_tokens=7)
    await provider.aclose()
    assert result.finish_reason == "length"
    assert llm.script.requests[0]["max_tokens"] == 7


@pytest.mark.parametrize(
    ("answer", "complaint"),
    [
        (b"<html>bad gateway</html>", "other than a chat completion"),
        (b'{"choices": []}', "other than a chat completion"),
        (b'data: {"choices": [{"delta": {"content": "Hi"}}]}\n\n', "ended the stream before"),
        (b'data: {"choices": [{"delta": {"content": 5}}]}\n\n', "other than a chat completion"),
        (b'data: {"error": {"message": "upstream overloaded"}}\n\n', "upstream overloaded"),
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


async def test_a_server_that_ignores_stream_true_still_works(llm: OpenAIStub) -> None:
    answer = {
        "model": "plain-json",
        "choices": [{"message": {"content": "Friday works."}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }
    llm.script.raw_answer = json.dumps(answer).encode()
    provider = _provider(llm)
    pieces: list[str] = []

    async def sink(piece: str) -> None:
        pieces.append(piece)

    result = await provider.complete(_request(), on_delta=sink)
    await provider.aclose()
    assert (result.content, result.finish_reason, result.served_model) == (
        "Friday works.",
        "length",
        "plain-json",
    )
    assert pieces == ["Friday works."]


async def test_a_cut_stream_is_retryable(llm: OpenAIStub) -> None:
    llm.script.cut_streams = 1
    provider = _provider(llm)
    with pytest.raises(LLMUnavailableError, match="ended the stream"):
        await provider.complete(_request())
    again = await provider.complete(_request())
    await provider.aclose()
    assert again.finish_reason == "stop"


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_retryable_statuses_are_retried_then_succeed(llm: OpenAIStub, status: int) -> None:
    llm.script.failures.extend([status, status])
    provider = _provider(llm)
    result = await with_retries(
        lambda _: provider.complete(_request()), attempts=3, base=0.01, cap=0.02
    )
    await provider.aclose()
    assert len(llm.script.requests) == 3
    assert result.content.startswith("Draft 3")


async def test_retry_after_is_honoured(llm: OpenAIStub) -> None:
    llm.script.failures.append(429)
    llm.script.retry_after = "0.4"
    provider = _provider(llm)
    started = time.monotonic()
    await with_retries(lambda _: provider.complete(_request()), attempts=3, base=0.01, cap=0.02)
    waited = time.monotonic() - started
    await provider.aclose()
    assert waited >= 0.4  # the backoff alone would have waited about 0.01 s


async def test_the_deadline_ends_retries_before_the_attempts_run_out(llm: OpenAIStub) -> None:
    llm.script.always_status = 503
    provider = _provider(llm)
    # The error is the last failure: the 503, or (on a loaded machine) the last attempt cut
    # short by the deadline itself.
    with pytest.raises(LLMUnavailableError, match=r"503|no complete answer within"):
        await with_retries(
            lambda _: provider.complete(_request()), attempts=1000, base=0.05, cap=0.1, deadline=0.5
        )
    await provider.aclose()
    assert 2 <= len(llm.script.requests) < 20


# A refused connection can leave httpcore's response generator to be closed by the garbage
# collector (GeneratorExit), reported as an unraisable exception on a loaded machine; the
# behaviour under test is the retry, so that report is not treated as a failure here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_connection_errors_are_backed_off_until_the_server_is_back() -> None:
    port = free_port()
    started: list[OpenAIStub] = []
    # Nothing listens on the port (connection refused) until the server comes up.
    timer = threading.Timer(0.3, lambda: started.append(OpenAIStub(port).start()))
    timer.start()
    provider = OpenAIProvider(
        api_key="k",
        model="m",
        base_url=f"http://127.0.0.1:{port}/v1",
        timeout=2,
        max_tokens=8,
        temperature=0,
    )
    try:
        result = await with_retries(
            lambda _: provider.complete(_request()), attempts=50, base=0.05, cap=0.1, deadline=10
        )
        assert result.finish_reason == "stop"
    finally:
        timer.join()
        await provider.aclose()
        for stub in started:
            stub.stop()


async def test_persistent_500_raises_after_the_last_attempt(llm: OpenAIStub) -> None:
    llm.script.always_status = 500
    provider = _provider(llm)
    with pytest.raises(LLMUnavailableError, match="answered 500") as info:
        await with_retries(lambda _: provider.complete(_request()), attempts=3, base=0.01, cap=0.02)
    await provider.aclose()
    assert len(llm.script.requests) == 3
    assert info.value.__cause__ is not None


async def test_a_stalled_stream_times_out_and_its_connection_is_closed(llm: OpenAIStub) -> None:
    llm.script.stall = threading.Event()
    provider = _provider(llm, timeout=30)
    with pytest.raises(LLMTimeoutError, match="DRAFTS_LLM_TIMEOUT"):
        await with_retries(
            lambda _: provider.complete(_request()), attempts=1, base=0.01, cap=0.02, timeout=0.3
        )
    for _ in range(200):
        if llm.script.closed:
            break
        await asyncio.sleep(0.01)
    await provider.aclose()
    assert llm.script.closed == [1]  # the server saw the client hang up


async def test_refused_request_is_not_retried_and_names_the_setting(llm: OpenAIStub) -> None:
    llm.script.always_status = 401
    provider = _provider(llm)
    with pytest.raises(LLMRequestError, match="DRAFTS_LLM_API_KEY"):
        await with_retries(lambda _: provider.complete(_request()), attempts=4, base=0.01, cap=0.02)
    await provider.aclose()
    assert len(llm.script.requests) == 1


async def test_a_base_url_without_v1_names_the_base_url(llm: OpenAIStub) -> None:
    provider = OpenAIProvider(
        api_key="k",
        model="stub/model-1",
        base_url=llm.base_url.removesuffix("/v1"),
        timeout=5,
        max_tokens=8,
        temperature=0,
    )
    with pytest.raises(LLMRequestError, match=r"DRAFTS_LLM_BASE_URL .*under /v1"):
        await provider.complete(_request())
    with pytest.raises(LLMUnavailableError, match="DRAFTS_LLM_BASE_URL"):
        await provider.list_models()
    await provider.aclose()


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


async def test_offline_drafter_answers_the_question_and_redrafts_on_feedback() -> None:
    provider = OfflineProvider()
    first = await provider.complete(_request())
    again = await provider.complete(_request())
    assert first == again
    assert (first.provider, first.model, first.finish_reason) == (
        "offline",
        "offline-template",
        "stop",
    )
    # The counterpart's name and the question, punctuation kept; never the writer's name.
    assert first.content.startswith("Hi Alice,")
    assert '"Can we move the budget review to Friday?"' in first.content
    assert "Bob" not in first.content
    for feedback, expect in [
        ("much shorter please", "Hi Alice, thanks."),
        ("more formal", "Dear Alice,"),
        ("make it warmer", "Hi Alice!"),
        ("mention the Q3 numbers", "Hello Alice,"),
    ]:
        revised = await provider.complete(_request(current_draft=first.content, feedback=feedback))
        assert revised.content.startswith(expect), revised.content
        assert feedback not in revised.content
        assert revised.content != first.content
        assert revised.content.endswith((".", "!", "Kind regards"))


def test_auto_picks_offline_without_key_and_logs_it(
    caplog: pytest.LogCaptureFixture, sqlite_url: str
) -> None:
    settings = make_settings(sqlite_url, llm_provider="auto", llm_api_key=None)
    with caplog.at_level(logging.WARNING):
        provider = build_provider(settings)
    assert isinstance(provider, OfflineProvider)
    assert any("llm_offline" in str(r.msg) for r in caplog.records)


def test_openai_without_key_names_the_variable(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, llm_provider="openai", llm_api_key=None)
    with pytest.raises(ConfigurationError, match="DRAFTS_LLM_API_KEY") as info:
        build_provider(settings)
    assert info.value.setting == "DRAFTS_LLM_API_KEY"


def test_auto_picks_openai_with_key(sqlite_url: str, llm: OpenAIStub) -> None:
    settings = make_settings(sqlite_url, llm, llm_provider="auto")
    assert isinstance(build_provider(settings), OpenAIProvider)


def test_llm_settings_and_their_openrouter_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    from draft_service import DraftSettings

    monkeypatch.setenv("OPENROUTER_API_KEY", "or-key")
    monkeypatch.setenv("OPENROUTER_MODEL", "vendor/model")
    settings = DraftSettings.load()
    assert settings.llm_api_key is not None
    assert settings.llm_api_key.get_secret_value() == "or-key"
    assert settings.llm_model == "vendor/model"
    monkeypatch.setenv("OPENROUTER_BASE_URL", "http://127.0.0.1:9090/v1")
    assert DraftSettings.load().llm_base_url == "http://127.0.0.1:9090/v1"
    monkeypatch.setenv("DRAFTS_LLM_MODEL", "SmolLM2-135M")
    monkeypatch.setenv("DRAFTS_LLM_BASE_URL", "http://127.0.0.1:8080/v1/")
    settings = DraftSettings.load()
    assert settings.llm_model == "SmolLM2-135M"
    assert settings.llm_base_url == "http://127.0.0.1:8080/v1"


def test_the_gentle_defaults() -> None:
    """Two LLM calls at once per process; 120 s of calls and waits per job."""
    from draft_service import DraftSettings

    settings = DraftSettings()
    assert (settings.llm_concurrency, settings.llm_deadline) == (2, 120.0)


@pytest.mark.parametrize("url", ["127.0.0.1:8080/v1", "localhost/v1", "ftp://host/v1", "http://"])
def test_a_base_url_without_scheme_or_host_fails_at_start(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    from draft_service import DraftSettings

    monkeypatch.setenv("DRAFTS_LLM_BASE_URL", url)
    with pytest.raises(ConfigurationError, match=r"DRAFTS_LLM_BASE_URL.*http://") as info:
        DraftSettings.load()
    assert info.value.setting == "DRAFTS_LLM_BASE_URL"


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff_delay(n, 0.1, 0.5) for n in range(1, 8)]
    assert 0.05 <= delays[0] <= 0.1
    assert all(d <= 0.5 for d in delays)
    assert delays[-1] >= 0.25


def test_prompt_versions_are_package_files() -> None:
    assert {"v1", "v2"} <= set(available_versions())
    msgs = render_revision(
        "v2",
        writer=BOB,
        thread_name="budget",
        transcript=TRANSCRIPT,
        related=[PromptLine("Carol", "2024-04-01", "Budget was approved in April")],
        draft="Sure, Friday works.",
        feedback="mention the April approval",
    )
    assert "Budget was approved in April" in msgs[1].content
    assert "mention the April approval" in msgs[1].content
    assert "Bob Stone" in msgs[0].content
    assert "Alice" in msgs[0].content  # the counterpart the reply addresses
    with pytest.raises(ConfigurationError, match="DRAFTS_PROMPT_VERSION"):
        render_draft("v999", writer=BOB, thread_name="t", transcript=TRANSCRIPT, related=[])


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_without_a_profile_the_prompt_never_names_the_writer_by_id(version: str) -> None:
    anonymous = Writer(names=("usr_8f3a2c",))
    msgs = render_draft(
        version, writer=anonymous, thread_name="t", transcript=TRANSCRIPT, related=[]
    )
    text = "\n".join(m.content for m in msgs)
    assert "usr_8f3a2c" not in text
    assert "never invent" in text


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from draft_service import DraftSettings

    monkeypatch.setenv("DRAFTS_LLM_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="DRAFTS_LLM_TIMEOUT"):
        DraftSettings.load()
    monkeypatch.delenv("DRAFTS_LLM_TIMEOUT")
    monkeypatch.setenv("DRAFTS_DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigurationError, match="DRAFTS_DATABASE_URL"):
        DraftSettings.load()


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Mon, 07 Dec 2026 21:00:07 GMT"}, 7.0),  # an HTTP date, 7 s ahead
        ({"retry-after": "Mon, 07 Dec 2026 20:59:00 GMT"}, 0.0),  # a date already past
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_as_a_date(
    headers: dict[str, str], seconds: float | None
) -> None:
    import httpx

    from draft_service.llm.openai_provider import parse_retry_after

    now = datetime(2026, 12, 7, 21, 0, 0, tzinfo=UTC)
    assert parse_retry_after(httpx.Headers(headers), now=now) == seconds
