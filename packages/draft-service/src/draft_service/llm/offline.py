"""The ``offline`` provider: short, plain replies written without any model.

It reads who wrote last (other than the writer) and what they asked, and writes a short reply
around that question, punctuation kept. Feedback is applied by drafting again in the style it
asks for (shorter, more formal, warmer), never by pasting it into the text. The same request
always gives the same reply; every revision's provenance names the provider ``offline``.
"""

from __future__ import annotations

import re

from draft_service.llm.base import Completion, DeltaSink, DraftRequest
from draft_service.prompt import PromptLine

__all__ = ["OfflineProvider"]

_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_SHORT = ("short", "brief", "concise", "terse", "less")
_FORMAL = ("formal", "polite", "professional", "courteous")
_WARM = ("warm", "friendly", "casual", "kind", "nicer", "relaxed")


def _first_name(sender: str) -> str:
    words = sender.strip().split()
    return words[0].rstrip(",") if words else "there"


def _ask(line: PromptLine) -> tuple[str, bool]:
    """The question ``line`` asks (``True``), else its first sentence (``False``)."""
    sentences = [s.strip() for s in _SENTENCE.findall(line.content) if s.strip()]
    questions = [s for s in sentences if s.endswith("?")]
    if questions:
        return questions[-1], True
    first = sentences[0] if sentences else line.content.strip()
    if len(first) > 160:
        first = first[:157].rsplit(" ", 1)[0] + "..."
    return first, False


def _style(feedback: str | None) -> str:
    words = set(_WORD.findall((feedback or "").lower()))
    for style, keys in (("short", _SHORT), ("formal", _FORMAL), ("warm", _WARM)):
        if any(w.startswith(k) for w in words for k in keys):
            return style
    return "plain" if feedback is None else "rephrased"


def _compose(name: str, asked: str, is_question: bool, style: str) -> str:
    topic = f'your question, "{asked}"' if is_question else f'your message, "{asked}"'
    if style == "short":
        return f"Hi {name}, thanks. I'll come back to you on this shortly."
    if style == "formal":
        return (
            f"Dear {name},\n\nThank you for {topic}. I am looking into it and will reply in "
            "full shortly.\n\nKind regards"
        )
    if style == "warm":
        return f"Hi {name}! Thanks so much for {topic}. I'm on it and will get back to you soon."
    if style == "rephrased":
        return f"Hello {name}, I've read {topic}. Let me check and I'll reply shortly."
    return f"Hi {name}, thanks for {topic}. I'll look into it and get back to you shortly."


class OfflineProvider:
    """Writes a short, deterministic reply from the thread, without a model.

    Each revision's provenance names the provider ``offline`` and the model
    ``offline-template``; its ``finish_reason`` is ``stop``.
    """

    name = "offline"
    model = "offline-template"

    async def complete(
        self,
        request: DraftRequest,
        *,
        max_tokens: int | None = None,
        on_delta: DeltaSink | None = None,
    ) -> Completion:
        """Write the reply to the last message of someone other than the writer."""
        writer = request.writer
        others = [m for m in request.transcript if not writer.is_writer(m.sender_name)]
        last = others[-1] if others else request.transcript[-1]
        asked, is_question = _ask(last)
        style = _style(request.feedback if request.current_draft is not None else None)
        reply = _compose(_first_name(last.sender_name), asked, is_question, style)
        if writer.signature:
            reply = f"{reply}\n\n{writer.signature}"
        if on_delta is not None:
            await on_delta(reply)
        words = sum(len(_WORD.findall(m.content)) for m in request.messages)
        return Completion(
            content=reply,
            provider=self.name,
            model=self.model,
            served_model=self.model,
            finish_reason="stop",
            prompt_tokens=words,
            completion_tokens=len(_WORD.findall(reply)),
        )

    async def aclose(self) -> None:
        """Nothing to release."""
