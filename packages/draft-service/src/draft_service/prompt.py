"""Rendering the versioned prompt templates into chat messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from string import Template

from platform_core.errors import ConfigurationError

__all__ = [
    "ChatMessage",
    "PromptLine",
    "Writer",
    "available_versions",
    "prompt_hash",
    "render_draft",
    "render_revision",
]


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
    ref: str = ""
    """The message id (thread lines) or archive object id (related lines) it came from."""

    def render(self) -> str:
        """The line as shown to the model: ``[when] sender: content``."""
        return f"[{self.when}] {self.sender_name}: {self.content}"


@dataclass(frozen=True, slots=True)
class Writer:
    """Who the reply is written for: a user's profile, or nobody named.

    Attributes:
        display_name: The name the writer signs with (``None`` without a profile).
        role: Role or company, e.g. ``support agent at Acme``.
        signature: Text to end the reply with.
        tone: How the writer wants to sound, e.g. ``warm and brief``.
        names: Every name the writer goes by (display name and user id), to recognise the
            writer's own lines and a reply addressed to the writer; never put in a prompt
            unless it is the display name.
    """

    display_name: str | None = None
    role: str | None = None
    signature: str | None = None
    tone: str | None = None
    names: tuple[str, ...] = ()

    def describe(self) -> str:
        """The writer as the prompt names them."""
        if self.display_name is None:
            return "the owner of this inbox (whose name you do not know; never invent one)"
        return f"{self.display_name} ({self.role})" if self.role else self.display_name

    def is_writer(self, sender_name: str) -> bool:
        """Whether a message by ``sender_name`` was written by the writer."""
        folded = sender_name.strip().casefold()
        return any(folded == n.strip().casefold() for n in self.names if n.strip())


def prompt_hash(messages: Sequence[ChatMessage]) -> str:
    """``sha256:`` and the hex digest of the rendered prompt (roles and contents)."""
    import hashlib  # OpenSSL's bindings: loaded with the first prompt, not at import

    digest = hashlib.sha256()
    for m in messages:
        digest.update(m.role.encode() + b"\0" + m.content.encode("utf-8", "surrogatepass") + b"\0")
    return "sha256:" + digest.hexdigest()


def available_versions() -> list[str]:
    """The prompt versions shipped with the package."""
    from importlib import resources  # with tempfile and zipfile: not worth loading at import

    root = resources.files("draft_service.prompts")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))


@cache  # the files ship with the package: read each once, not per draft
def _template(version: str, name: str) -> Template:
    from importlib import resources

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


def _values(
    writer: Writer,
    thread_name: str,
    transcript: Sequence[PromptLine],
    related: Sequence[PromptLine],
) -> dict[str, str]:
    others = sorted({m.sender_name for m in transcript if not writer.is_writer(m.sender_name)})
    tone = f"in a {writer.tone} tone" if writer.tone else "in the tone of the conversation"
    signature = (
        f"End the reply with this signature on its own lines:\n{writer.signature}"
        if writer.signature
        else "Do not add a signature."
    )
    return {
        # v1 templates name the writer as $user_id: they get the description, never an id.
        "user_id": writer.describe(),
        "writer": writer.describe(),
        "counterparts": ", ".join(others) or "the other participants",
        "tone": tone,
        "signature": signature,
        "thread_name": thread_name,
        "transcript": _lines(transcript),
        "related": _lines(related),
    }


def render_draft(
    version: str,
    *,
    writer: Writer,
    thread_name: str,
    transcript: Sequence[PromptLine],
    related: Sequence[PromptLine],
) -> list[ChatMessage]:
    """The messages asking for a first draft of the reply to ``transcript``.

    Raises:
        ConfigurationError: when ``version`` is not shipped.
    """
    return _render(version, "draft", _values(writer, thread_name, transcript, related))


def render_revision(
    version: str,
    *,
    writer: Writer,
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
    values = _values(writer, thread_name, transcript, related)
    values.update(draft=draft, feedback=feedback)
    return _render(version, "revise", values)
