"""The task state machine: which status may follow which, and the workflow phase order.

Execution tasks go ``Pending -> Running -> Completed | Failed`` (``Running -> Pending`` when a
failure is retried or a lease expires). Workflow tasks walk the phases in order and end in
``Finalized``. Every status that is not final may be cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping

from taskqueue_server.errors import InvalidTransitionError

__all__ = [
    "FINAL_STATUSES",
    "PHASE_ORDER",
    "PRIORITY_RANK",
    "TRANSITIONS",
    "allowed_transitions",
    "check_transition",
    "is_final",
    "next_phase",
]

PHASE_ORDER: tuple[str, ...] = (
    "Planning",
    "Implementation",
    "TestCreation",
    "Testing",
    "AIReview",
    "Finalized",
)

FINAL_STATUSES: frozenset[str] = frozenset({"Completed", "Failed", "Cancelled", "Finalized"})

PRIORITY_RANK: Mapping[str, int] = {"Low": 0, "Normal": 1, "High": 2, "Critical": 3}

TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "Pending": ("Running", "Cancelled"),
    "Running": ("Completed", "Failed", "Pending", "Cancelled"),
    "Planning": ("Implementation", "Cancelled"),
    "Implementation": ("TestCreation", "Cancelled"),
    "TestCreation": ("Testing", "Cancelled"),
    "Testing": ("AIReview", "Cancelled"),
    "AIReview": ("Finalized", "Cancelled"),
    "Finalized": (),
    "Completed": (),
    "Failed": (),
    "Cancelled": (),
}


def is_final(status: str) -> bool:
    """True when no transition leaves ``status``."""
    return status in FINAL_STATUSES


def allowed_transitions(status: str) -> tuple[str, ...]:
    """The statuses a task in ``status`` may move to."""
    return TRANSITIONS.get(status, ())


def check_transition(current: str, requested: str) -> None:
    """Raise unless a task may move from ``current`` to ``requested``.

    Raises:
        InvalidTransitionError: listing the statuses allowed from ``current``.
    """
    if requested not in allowed_transitions(current):
        raise InvalidTransitionError(current, requested, allowed_transitions(current))


def next_phase(current: str) -> str:
    """The workflow phase after ``current``.

    Raises:
        InvalidTransitionError: when ``current`` is not a workflow phase or is the last one.
    """
    if current not in PHASE_ORDER or current == PHASE_ORDER[-1]:
        raise InvalidTransitionError(
            current,
            "the next workflow phase",
            allowed_transitions(current),
            reason="only tasks in a workflow phase before Finalized can advance",
        )
    return PHASE_ORDER[PHASE_ORDER.index(current) + 1]
