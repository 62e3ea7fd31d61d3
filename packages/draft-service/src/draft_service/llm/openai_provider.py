"""The ``openai`` provider: any OpenAI-compatible chat-completions endpoint."""

from __future__ import annotations

import json
from typing import Any

import openai
from openai import AsyncOpenAI

from draft_service.errors import LLMRequestError, LLMTimeoutError, LLMUnavailableError
from draft_service.llm.base import Completion, DraftRequest

__all__ = ["OpenAIProvider"]


def _completion(raw: bytes) -> tuple[str | None, str | None, dict[str, Any]]:
    """The content, model and usage of a chat-completions answer (``None`` where missing).

    Raises:
        ValueError: ``raw`` is not a chat-completions object.
    """
    try:
        data = json.loads(raw)
        choice = data["choices"][0] if data.get("choices") else {}
        content = (choice.get("message") or {}).get("content")
        usage = data.get("usage") or {}
        model = data.get("model")
    except (TypeError, AttributeError, KeyError, IndexError) as exc:
        raise ValueError(f"unexpected shape: {exc!r}") from exc
    if not isinstance(content, str | None) or not isinstance(usage, dict):
        raise ValueError("unexpected types of message.content or usage")
    return content, model if isinstance(model, str) else None, usage


def _tokens(usage: dict[str, Any], name: str) -> int | None:
    value = usage.get(name)
    return value if isinstance(value, int) else None


class OpenAIProvider:
    """Calls ``/chat/completions`` through the official ``openai`` client.

    The client's own retries are off: :func:`draft_service.llm.retry.with_retries` owns retrying,
    so attempts and backoff follow the service's settings. The request goes through the
    client's generic ``post`` and the answer is read as plain JSON: the client's request
    validation and response models cost more CPU per draft than the rest of the call, and the
    few fields used here are checked below (the client still handles auth, timeouts and status
    errors).

    Args:
        api_key: The endpoint's key (``OPENROUTER_API_KEY``).
        model: The model name (``OPENROUTER_MODEL``).
        base_url: The API root, e.g. ``https://openrouter.ai/api/v1`` or an Ollama server.
        timeout: Seconds per call.
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
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def complete(self, request: DraftRequest) -> Completion:
        """Ask the model for the reply.

        Raises:
            LLMTimeoutError: no answer within the timeout.
            LLMUnavailableError: connection failure, 429 or 5xx.
            LLMRequestError: any other refusal (bad key, unknown model, ...), or an empty answer.
        """
        body = {
            "model": self.model,
            "messages": [
                {"role": "system" if m.role == "system" else "user", "content": m.content}
                for m in request.messages
            ],
            "max_tokens": self._max_tokens,
            "temperature": self._temperature,
        }
        try:
            raw = await self._client.post("/chat/completions", cast_to=bytes, body=body)
        except openai.APITimeoutError as exc:
            raise LLMTimeoutError(
                f"{self.base_url} did not answer in time; raise DRAFTS_LLM_TIMEOUT or check the "
                "endpoint"
            ) from exc
        except openai.APIConnectionError as exc:
            raise LLMUnavailableError(
                f"cannot reach {self.base_url}: {exc}; check DRAFTS_LLM_BASE_URL"
            ) from exc
        except openai.APIStatusError as exc:
            detail = f"{self.base_url} answered {exc.status_code}: {exc.message}"
            if exc.status_code == 429 or exc.status_code >= 500:
                raise LLMUnavailableError(detail) from exc
            raise LLMRequestError(
                f"{detail}; check OPENROUTER_API_KEY and OPENROUTER_MODEL"
            ) from exc
        try:
            content, model, usage = _completion(raw)
        except ValueError as exc:  # json.JSONDecodeError included
            raise LLMUnavailableError(
                f"{self.base_url} answered with something other than a chat completion: {exc}"
            ) from exc
        if not content or not content.strip():
            raise LLMUnavailableError(f"{self.base_url} returned an empty completion")
        return Completion(
            content=content.strip(),
            provider=self.name,
            model=model or self.model,
            prompt_tokens=_tokens(usage, "prompt_tokens"),
            completion_tokens=_tokens(usage, "completion_tokens"),
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()
