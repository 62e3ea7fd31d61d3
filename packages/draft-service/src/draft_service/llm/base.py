"""The provider interface: a prompt in, a completion with its provenance out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from draft_service.prompt import ChatMessage, PromptLine

__all__ = ["Completion", "DraftRequest", "LLMProvider"]


@dataclass(frozen=True, slots=True)
class DraftRequest:
    """What a provider needs to write a reply.

    ``messages`` is the rendered prompt for model-backed providers; the structured fields let a
    provider without a model (``offline``) write a reply directly.
    """

    messages: Sequence[ChatMessage]
    user_id: str
    thread_name: str
    transcript: Sequence[PromptLine]
    current_draft: str | None = None
    feedback: str | None = None
    related: Sequence[PromptLine] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Completion:
    """A provider's answer and where it came from."""

    content: str
    provider: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@runtime_checkable
class LLMProvider(Protocol):
    """Something that writes a reply for a :class:`DraftRequest`."""

    name: str

    async def complete(self, request: DraftRequest) -> Completion:
        """Write the reply.

        Raises:
            LLMUnavailableError: a retryable failure (including timeouts).
            LLMRequestError: the provider refused the request.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
