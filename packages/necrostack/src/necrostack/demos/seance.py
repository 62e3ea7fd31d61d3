"""The séance: SUMMON_RITUAL -> SPIRIT_APPEARED -> ANSWER_GENERATED -> OMEN_REVEALED -> omen."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import ClassVar

from necrostack.event import Event
from necrostack.organ import Organ

__all__ = [
    "AskQuestion",
    "InterpretResponse",
    "ManifestEffect",
    "SummonSpirit",
    "seance_organs",
    "seance_start",
]

_ANSWERS = (
    "the cellar door was never locked",
    "count the candles again",
    "the letter is still under the floorboard",
    "you already know the name",
)
_OMENS = {
    0: "A draught snuffs the candles: the house agrees.",
    1: "The planchette trembles toward NO.",
    2: "Frost blooms on the mirror in the shape of a key.",
    3: "Somewhere upstairs, a music box starts by itself.",
}


def _pick(text: str, choices: int) -> int:
    # Deterministic, so the same question always meets the same spirit's answer.
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % choices


class SummonSpirit(Organ):
    """Answers a ritual with an apparition named after the ritual's spirit."""

    listens_to: ClassVar[list[str]] = ["SUMMON_RITUAL"]

    def handle(self, event: Event) -> Event:
        """Emit ``SPIRIT_APPEARED`` carrying the spirit and the question."""
        spirit = str(event.payload.get("spirit", "the nameless one"))
        return Event(
            event_type="SPIRIT_APPEARED",
            payload={"spirit": spirit, "question": event.payload.get("question", "Who is there?")},
        )


class AskQuestion(Organ):
    """Puts the question to the spirit and records its answer."""

    listens_to: ClassVar[list[str]] = ["SPIRIT_APPEARED"]

    async def handle(self, event: Event) -> Event:
        """Emit ``ANSWER_GENERATED`` with the spirit's (deterministic) answer."""
        question = str(event.payload["question"])
        answer = _ANSWERS[_pick(question, len(_ANSWERS))]
        return Event(
            event_type="ANSWER_GENERATED",
            payload={"spirit": event.payload["spirit"], "question": question, "answer": answer},
        )


class InterpretResponse(Organ):
    """Reads an omen into the answer."""

    listens_to: ClassVar[list[str]] = ["ANSWER_GENERATED"]

    def handle(self, event: Event) -> Event:
        """Emit ``OMEN_REVEALED`` with the omen that goes with the answer."""
        answer = str(event.payload["answer"])
        return Event(
            event_type="OMEN_REVEALED",
            payload={**event.payload, "omen": _OMENS[_pick(answer, len(_OMENS))]},
        )


class ManifestEffect(Organ):
    """Shows the omen through ``output`` and keeps it in :attr:`result`.

    Args:
        output: Where the omen's line goes, e.g. ``click.echo``.
    """

    listens_to: ClassVar[list[str]] = ["OMEN_REVEALED"]

    def __init__(self, output: Callable[[str], object]) -> None:
        super().__init__()
        self.output = output
        self.result: dict[str, object] | None = None

    def handle(self, event: Event) -> None:
        """Show the omen; the chain ends here."""
        self.result = dict(event.payload)
        self.output(
            f"{event.payload['spirit']} answers {event.payload['question']!r}: "
            f"{event.payload['answer']}. Omen: {event.payload['omen']}"
        )


def seance_organs(output: Callable[[str], object]) -> list[Organ]:
    """The séance's organs, in order; the last one is the :class:`ManifestEffect`."""
    return [SummonSpirit(), AskQuestion(), InterpretResponse(), ManifestEffect(output)]


def seance_start(spirit: str = "Madame Ossuary", question: str = "Who is there?") -> Event:
    """The ``SUMMON_RITUAL`` event that starts a séance."""
    return Event(event_type="SUMMON_RITUAL", payload={"spirit": spirit, "question": question})
