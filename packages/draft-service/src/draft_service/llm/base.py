"""The provider interface: a prompt in, a completion with its provenance out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from draft_service.prompt import ChatMessage, PromptLine, Writer

__all__ = ["Completion", "DeltaSink", "DraftRequest", "LLMProvider"]

DeltaSink = Callable[[str], Awaitable[None]]
"""Awaited with each piece of text as a streamed completion arrives."""


@dataclass(frozen=True, slots=True)
class DraftRequest:
    """What a provider needs to write a reply.

    ``messages`` is the rendered prompt for model-backed providers; the structured fields let a
    provider without a model (``offline``) write a reply directly.
    """

    messages: Sequence[ChatMessage]
    writer: Writer
    thread_name: str
    transcript: Sequence[PromptLine]
    current_draft: str | None = None
    feedback: str | None = None
    related: Sequence[PromptLine] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Completion:
    """A provider's answer and where it came from.

    Attributes:
        content: The text.
        provider: ``openai`` or ``offline``.
        model: The configured model.
        served_model: The model the server says answered (``None`` when it did not say).
        finish_reason: ``stop``, ``length`` (the token limit cut it), ... as the server said.
        prompt_tokens: Tokens of the prompt, when reported.
        completion_tokens: Tokens of the answer, when reported.
        duration_ms: How long the call took.
    """

    content: str
    provider: str
    model: str
    served_model: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    duration_ms: float | None = None


@runtime_checkable
class LLMProvider(Protocol):
    """Something that writes a reply for a :class:`DraftRequest`."""

    name: str
    model: str

    async def complete(
        self,
        request: DraftRequest,
        *,
        max_tokens: int | None = None,
        on_delta: DeltaSink | None = None,
    ) -> Completion:
        """Write the reply, streaming its pieces to ``on_delta`` as they arrive.

        Cancelling the call closes the connection, so the server stops generating.

        Raises:
            LLMUnavailableError: a retryable failure (including timeouts).
            LLMRequestError: the provider refused the request.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
