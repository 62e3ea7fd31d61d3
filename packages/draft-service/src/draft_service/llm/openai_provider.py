"""The ``openai`` provider: any OpenAI-compatible chat-completions endpoint, streamed.

This module imports ``openai`` (about a second of import time), so it is loaded only when the
provider is selected: see :func:`draft_service.llm.build_provider`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import openai
from openai import AsyncOpenAI

from draft_service.errors import LLMRequestError, LLMTimeoutError, LLMUnavailableError
from draft_service.llm.base import Completion, DeltaSink, DraftRequest

__all__ = ["OpenAIProvider", "parse_retry_after"]


def parse_retry_after(headers: httpx.Headers | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header; ``None`` when absent or
    unreadable (the service's backoff applies then).

    ``Retry-After`` may be delta-seconds or an HTTP date (RFC 9110); a date in the past is 0.

    Args:
        headers: The response's headers.
        now: The time to count a date from (the current time by default).
    """
    if headers is None:
        return None
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if "retry-after" not in headers:
            return None
        value = headers["retry-after"].strip()
        try:
            return max(0.0, float(value))  # delta-seconds (some servers send a fraction)
        except ValueError:
            when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _Stream:
    """Folds chat-completion chunks into the text, finish reason, model and usage."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.usage: dict[str, Any] = {}

    def whole(self, raw: bytes) -> None:
        """Read a non-streamed chat completion (a server that ignored ``stream``).

        Raises:
            ValueError: ``raw`` is not a chat completion with a text message.
        """
        data = json.loads(raw)
        if not isinstance(data, dict) or not data.get("choices"):
            raise ValueError(f"no choices in {raw[:200]!r}")
        choice = data["choices"][0]
        content = (choice.get("message") or {}).get("content")
        if not isinstance(content, str):
            raise ValueError("message.content is not a string")
        self.parts.append(content)
        self.finish_reason = str(choice.get("finish_reason") or "stop")
        if isinstance(data.get("model"), str):
            self.model = data["model"]
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]

    def take(self, data: str) -> str:
        """Read one ``data:`` payload; returns its text piece (may be empty).

        Raises:
            ValueError: the payload is not a chat-completion chunk.
        """
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError("a chunk is not a JSON object")
        if "error" in chunk:
            raise ValueError(f"error in the stream: {chunk['error']!r}")
        if isinstance(chunk.get("model"), str):
            self.model = chunk["model"]
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        if not choices:
            return ""
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        piece = (choice.get("delta") or {}).get("content")
        if piece is None:
            return ""
        if not isinstance(piece, str):
            raise ValueError("delta.content is not a string")
        self.parts.append(piece)
        return piece


_DRAIN_SECONDS = 1.0


async def _drain(lines: AsyncIterator[str]) -> None:
    """Read the end of a stream after its ``[DONE]`` (a chunked body's last, empty chunk), so
    the connection goes back to the client's pool: closed unread, every call connected anew
    (a TLS handshake with a remote endpoint). A server still sending, or holding the stream
    open, after ``_DRAIN_SECONDS`` gets its connection closed instead, as before."""
    try:
        async with asyncio.timeout(_DRAIN_SECONDS):
            async for _ in lines:
                pass
    except (TimeoutError, httpx.HTTPError):
        return


async def _nothing() -> AsyncIterator[str]:
    return
    yield  # an empty async iterator


def _tokens(usage: dict[str, Any], name: str) -> int | None:
    value = usage.get(name)
    return value if isinstance(value, int) else None


class OpenAIProvider:
    """Calls ``/chat/completions`` with ``"stream": true`` through the official ``openai``
    client.

    The client's own retries are off: :func:`draft_service.llm.retry.with_retries` owns
    retrying, so attempts, backoff and the deadline follow the service's settings. The answer
    is streamed and read as plain Server-Sent Events (the client's response models cost more
    CPU per draft than the rest of the call); the client still handles auth, timeouts and
    status errors. Cancelling :meth:`complete` closes the response, so the server stops
    generating a draft nobody will keep.

    Args:
        api_key: The endpoint's key (``DRAFTS_LLM_API_KEY``).
        model: The model name (``DRAFTS_LLM_MODEL``).
        base_url: The API root, e.g. ``http://127.0.0.1:8080/v1`` (llama.cpp).
        timeout: Seconds per call, the whole stream included.
        max_tokens: Completion token limit.
        temperature: Sampling temperature.
    """

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str,
        timeout: float,
        max_tokens: int,
        temperature: float,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._timeout = timeout
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def list_models(self) -> list[str]:
        """The model ids ``GET /models`` lists.

        Raises:
            LLMUnavailableError: the endpoint cannot be reached or answers with an error.
        """
        try:
            raw = await self._client.get("/models", cast_to=bytes)
            data = json.loads(raw).get("data") or []
            return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]
        except openai.APIStatusError as exc:
            hint = "; check DRAFTS_LLM_BASE_URL (most servers serve the API under /v1)"
            raise LLMUnavailableError(
                f"{self.base_url}/models answered {exc.status_code}{hint}"
            ) from exc
        except openai.APIError as exc:
            raise LLMUnavailableError(
                f"cannot reach {self.base_url}: {exc}; check DRAFTS_LLM_BASE_URL"
            ) from exc
        except (ValueError, AttributeError, TypeError) as exc:
            raise LLMUnavailableError(
                f"{self.base_url}/models answered something other than a model list; check "
                "DRAFTS_LLM_BASE_URL"
            ) from exc

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        detail = f"{self.base_url} answered {exc.status_code}: {exc.message}"
        if exc.status_code == 429 or exc.status_code >= 500:
            return LLMUnavailableError(detail, retry_after=parse_retry_after(exc.response.headers))
        if exc.status_code in (401, 403):
            return LLMRequestError(f"{detail}; check DRAFTS_LLM_API_KEY")
        if exc.status_code == 404:
            return LLMRequestError(
                f"{detail}; check DRAFTS_LLM_BASE_URL (most servers serve the API under /v1) "
                f"and DRAFTS_LLM_MODEL ({self.model!r})"
            )
        return LLMRequestError(f"{detail}; check DRAFTS_LLM_MODEL ({self.model!r})")

    async def complete(
        self,
        request: DraftRequest,
        *,
        max_tokens: int | None = None,
        on_delta: DeltaSink | None = None,
    ) -> Completion:
        """Ask the model for the reply, streaming it.

        Raises:
            LLMTimeoutError: no complete answer within the timeout.
            LLMUnavailableError: connection failure, a cut stream, 429 or 5xx.
            LLMRequestError: any other refusal (bad key, unknown model, wrong base URL).
        """
        body = {
            "model": self.model,
            "messages": [
                {"role": "system" if m.role == "system" else "user", "content": m.content}
                for m in request.messages
            ],
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        started = time.perf_counter()
        stream = _Stream()
        done = False
        try:
            response = await self._client.post(
                "/chat/completions",
                cast_to=httpx.Response,
                body=body,
                stream=True,
                stream_cls=None,
            )
            try:
                if not response.headers.get("content-type", "").startswith("text/event-stream"):
                    # A server that ignores "stream": true answers one JSON completion.
                    stream.whole(await response.aread())
                    if on_delta is not None and stream.parts:
                        await on_delta("".join(stream.parts))
                    done = True
                lines = response.aiter_lines() if not done else _nothing()
                async for line in lines:
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        await _drain(lines)
                        break
                    piece = stream.take(data)
                    if piece and on_delta is not None:
                        await on_delta(piece)
            finally:
                await response.aclose()
        except openai.APITimeoutError as exc:
            raise LLMTimeoutError(
                f"{self.base_url} did not answer within {self._timeout:g} s; raise "
                "DRAFTS_LLM_TIMEOUT or check the endpoint"
            ) from exc
        except openai.APIConnectionError as exc:
            raise LLMUnavailableError(
                f"cannot reach {self.base_url}: {exc}; check DRAFTS_LLM_BASE_URL"
            ) from exc
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from exc
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(
                f"{self.base_url} stopped streaming for {self._timeout:g} s; raise "
                "DRAFTS_LLM_TIMEOUT or check the endpoint"
            ) from exc
        except httpx.HTTPError as exc:
            raise LLMUnavailableError(f"{self.base_url} broke off the stream: {exc!r}") from exc
        except ValueError as exc:  # json.JSONDecodeError included
            raise LLMUnavailableError(
                f"{self.base_url} answered with something other than a chat completion: {exc}"
            ) from exc
        if not done and stream.finish_reason is None:
            raise LLMUnavailableError(f"{self.base_url} ended the stream before the answer did")
        return Completion(
            content="".join(stream.parts),
            provider=self.name,
            model=self.model,
            served_model=stream.model,
            finish_reason=stream.finish_reason,
            prompt_tokens=_tokens(stream.usage, "prompt_tokens"),
            completion_tokens=_tokens(stream.usage, "completion_tokens"),
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()
