"""Running a demo to completion on any backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from necrostack.backends.base import Backend
from necrostack.demos.etl import etl_organs, etl_start
from necrostack.demos.seance import seance_organs, seance_start
from necrostack.event import Event
from necrostack.organ import Organ
from necrostack.spine import Spine

__all__ = ["DEMOS", "Demo", "run_demo"]


@dataclass(frozen=True)
class Demo:
    """A demo: how to build its organs and its first event.

    Attributes:
        organs: Builds the organs given an output function; the last organ keeps ``result``.
        start: Builds the first event.
    """

    organs: Callable[[Callable[[str], object]], list[Organ]]
    start: Callable[[], Event]


DEMOS: dict[str, Demo] = {
    "seance": Demo(seance_organs, seance_start),
    "etl": Demo(etl_organs, etl_start),
}


async def run_demo(
    name: str,
    backend: Backend,
    output: Callable[[str], object],
    *,
    until_idle: float = 1.0,
) -> Any:
    """Run demo ``name`` on ``backend`` until the backend stays empty for ``until_idle``.

    Args:
        name: ``"seance"`` or ``"etl"``.
        backend: Any backend; it is not closed here.
        output: Receives the demo's printed lines.
        until_idle: Seconds without events after which the run ends.

    Returns:
        The final organ's ``result`` (the omen, or the ETL summary).

    Raises:
        KeyError: ``name`` is not a demo.
    """
    demo = DEMOS[name]
    organs = demo.organs(output)
    await Spine(organs, backend).run(demo.start(), until_idle=until_idle)
    return getattr(organs[-1], "result", None)
