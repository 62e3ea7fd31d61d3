"""Rendering the versioned prompt templates into chat messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from platform_core.errors import ConfigurationError

__all__ = ["ChatMessage", "PromptLine", "available_versions", "render_draft", "render_revision"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One chat-completions message."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class PromptLine:
    """One message of a thread as it appears in a prompt."""

    sender_name: str
    when: str
    content: str

    def render(self) -> str:
        """The line as shown to the model: ``[when] sender: content``."""
        return f"[{self.when}] {self.sender_name}: {self.content}"


def available_versions() -> list[str]:
    """The prompt versions shipped with the package."""
    root = resources.files("draft_service.prompts")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))


@cache  # the files ship with the package: read each once, not per draft
def _template(version: str, name: str) -> Template:
    path = resources.files("draft_service.prompts").joinpath(version, f"{name}.txt")
    if not path.is_file():
        raise ConfigurationError(
            f"prompt version {version!r} has no {name}.txt; DRAFTS_PROMPT_VERSION accepts "
            f"{', '.join(available_versions())}",
            setting="DRAFTS_PROMPT_VERSION",
        )
    return Template(path.read_text(encoding="utf-8"))


def _lines(lines: Sequence[PromptLine]) -> str:
    return "\n".join(line.render() for line in lines) or "(none)"


def _render(version: str, task: str, values: dict[str, str]) -> list[ChatMessage]:
    """The system message and the ``task`` template's user message, filled from ``values``."""
    return [
        ChatMessage("system", _template(version, "system").safe_substitute(values).strip()),
        ChatMessage("user", _template(version, task).safe_substitute(values).strip()),
    ]


def render_draft(
    version: str,
    *,
    user_id: str,
    thread_name: str,
    transcript: Sequence[PromptLine],
    related: Sequence[PromptLine],
) -> list[ChatMessage]:
    """The messages asking for a first draft of the reply to ``transcript``.

    Raises:
        ConfigurationError: when ``version`` is not shipped.
    """
    values = {
        "user_id": user_id,
        "thread_name": thread_name,
        "transcript": _lines(transcript),
        "related": _lines(related),
    }
    return _render(version, "draft", values)


def render_revision(
    version: str,
    *,
    user_id: str,
    thread_name: str,
    transcript: Sequence[PromptLine],
    related: Sequence[PromptLine],
    draft: str,
    feedback: str,
) -> list[ChatMessage]:
    """The messages asking to rewrite ``draft`` following ``feedback``.

    Raises:
        ConfigurationError: when ``version`` is not shipped.
    """
    values = {
        "user_id": user_id,
        "thread_name": thread_name,
        "transcript": _lines(transcript),
        "related": _lines(related),
        "draft": draft,
        "feedback": feedback,
    }
    return _render(version, "revise", values)
