"""The ``openai`` provider: any OpenAI-compatible chat-completions endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

import openai
from openai import AsyncOpenAI

from draft_service.errors import LLMRequestError, LLMTimeoutError, LLMUnavailableError
from draft_service.llm.base import Completion, DraftRequest

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

__all__ = ["OpenAIProvider"]


class OpenAIProvider:
    """Calls ``/chat/completions`` through the official ``openai`` client.

    The client's own retries are off: :func:`draft_service.llm.retry.with_retries` owns retrying,
    so attempts and backoff follow the service's settings.

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
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": m.content}
            if m.role == "system"
            else {"role": "user", "content": m.content}
            for m in request.messages
        ]
        try:
            result = await self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                max_tokens=self._max_tokens,
                temperature=self._temperature,
            )
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
        content = result.choices[0].message.content if result.choices else None
        if not content or not content.strip():
            raise LLMUnavailableError(f"{self.base_url} returned an empty completion")
        usage = result.usage
        return Completion(
            content=content.strip(),
            provider=self.name,
            model=result.model or self.model,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()
