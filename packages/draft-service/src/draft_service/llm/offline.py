"""The ``offline`` provider: deterministic plain replies written without any model."""

from __future__ import annotations

import re

from draft_service.llm.base import Completion, DraftRequest

__all__ = ["OfflineProvider"]

_WORD = re.compile(r"\w+")


def _topic(text: str, limit: int = 8) -> str:
    words = _WORD.findall(text)
    snippet = " ".join(words[:limit])
    return snippet + ("..." if len(words) > limit else "")


class OfflineProvider:
    """Writes a short, deterministic acknowledgement from the thread.

    The same request always gives the same reply, so tests and demos are reproducible. Each
    draft's provenance names the provider ``offline`` and the model ``offline-template``.
    """

    name = "offline"
    model = "offline-template"

    async def complete(self, request: DraftRequest) -> Completion:
        """Write the reply from the last message of someone other than the user."""
        others = [m for m in request.transcript if m.sender_name != request.user_id]
        last = others[-1] if others else request.transcript[-1]
        reply = f'Hi {last.sender_name}, thanks for your message about "{_topic(last.content)}".'
        reply += " I'll get back to you shortly."
        if request.current_draft is not None and request.feedback is not None:
            reply = f"{reply} (Revised: {request.feedback.strip()})"
        words = sum(len(_WORD.findall(m.content)) for m in request.messages)
        return Completion(
            content=reply,
            provider=self.name,
            model=self.model,
            prompt_tokens=words,
            completion_tokens=len(_WORD.findall(reply)),
        )

    async def aclose(self) -> None:
        """Nothing to release."""
