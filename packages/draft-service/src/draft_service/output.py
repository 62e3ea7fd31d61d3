"""Checking a model's answer before it is offered as a draft.

Small models often wrap the reply in a role prefix (``Assistant:``, ``Reply:``, the writer's
name), copy the prompt's ``[date] name:`` markup, repeat the conversation, or write as the
customer (greeting the writer). :func:`review` strips the wrapping and names what makes an
answer unusable; the service retries such an answer once and then fails the job with the
reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from draft_service.prompt import PromptLine, Writer

__all__ = ["Review", "review"]

_ROLE = re.compile(r"^\s*(?:assistant|reply|response|answer|draft(?: reply)?)\s*:\s*", re.I)
_MARKUP = re.compile(r"^\s*\[[^\]\n]{1,40}\]\s*([^:\n]{1,80}):\s?(.*)$")
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))[\s,]+([^\s,!.:;]+)", re.I
)
_SPACE = re.compile(r"\s+")
_MIN_ECHO = 12  # characters: shorter lines ("OK", "Thanks!") may repeat by chance


@dataclass(frozen=True, slots=True)
class Review:
    """The cleaned text and, when it cannot be offered, why."""

    text: str
    problem: str | None = None


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def _is_writer(name: str, writer: Writer) -> bool:
    name = _norm(name)
    for known in writer.names:
        known = _norm(known)
        if known and (name == known or name == known.split(" ")[0]):
            return True
    return False


def review(text: str, writer: Writer, transcript: Sequence[PromptLine]) -> Review:
    """Strip role prefixes and transcript markup from ``text`` and check what is left.

    Args:
        text: The model's answer.
        writer: Who the reply is written for.
        transcript: The conversation the prompt carried.

    Returns:
        The cleaned text; ``problem`` says why it is unusable (empty, repeats the
        conversation's lines, addressed to the writer), else ``None``.
    """
    said = {_norm(m.content) for m in transcript if len(m.content.strip()) >= _MIN_ECHO}
    kept: list[str] = []
    echoed = 0
    for line in text.strip().splitlines():
        marked = _MARKUP.match(line)
        if marked is not None:
            sender, rest = marked.groups()
            if not _is_writer(sender, writer) or _norm(rest) in said:
                echoed += 1
                continue
            line = rest
        elif _norm(line) in said:
            echoed += 1
            continue
        kept.append(line)
    while kept and not kept[0].strip():
        kept.pop(0)
    if kept:
        first = _ROLE.sub("", kept[0])
        for name in writer.names:
            if name.strip() and first.casefold().startswith(name.strip().casefold() + ":"):
                first = first[len(name.strip()) + 1 :].lstrip()
        kept[0] = first
    cleaned = "\n".join(kept).strip().strip('"').strip()
    if echoed:
        return Review(cleaned, "the answer repeats the conversation's lines instead of replying")
    if not cleaned:
        return Review(cleaned, "the answer is empty")
    greeted = _GREETING.match(cleaned)
    if greeted is not None and _is_writer(greeted.group(1), writer):
        who = greeted.group(1)
        return Review(cleaned, f"the answer greets the writer ({who}) instead of replying to them")
    return Review(cleaned)
