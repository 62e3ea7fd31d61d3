"""The benchmark harness: alternating A/B rounds, medians, ratios and the results table.

A benchmark module is ``benchmarks/bench_<area>.py`` with ``async def main(h: Harness)``. It sets
up what it needs (real services come from :mod:`platform_core.testing.services`), then calls
:meth:`Harness.compare` for each candidate/comparison pair and :meth:`Harness.figure` for
figures that are not ratios (latency percentiles, memory, sizes).
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RunFn = Callable[[int], Awaitable[object] | object]

RESULTS_DIR = Path(__file__).with_name("results")
RESULTS_MD = Path(__file__).with_name("results.md")


@dataclass
class Case:
    """One side of a comparison: ``run(n)`` performs ``n`` operations (sync or async)."""

    label: str
    run: RunFn


@dataclass
class Row:
    """A measured comparison: median seconds per operation of each side and their ratio."""

    benchmark: str
    candidate: str
    comparison: str
    candidate_s: float
    comparison_s: float
    ratio: float
    goal: str
    met: bool | None
    ops: int
    rounds: int


@dataclass
class Figure:
    """A measured figure that is not a ratio, reported as measured."""

    name: str
    value: str
    note: str = ""


@dataclass
class ModuleResult:
    """Everything one benchmark module measured in one run."""

    module: str
    rows: list[Row] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    machine: str = ""
    when: str = ""


async def _call(fn: RunFn, n: int) -> float:
    start = time.perf_counter()
    result = fn(n)
    if inspect.isawaitable(result):
        await result
    return time.perf_counter() - start


class Harness:
    """Collects the rows and figures of one module; see the module docstring."""

    def __init__(self, module: str, *, quick: bool = False) -> None:
        self.result = ModuleResult(module=module, machine=machine_line(), when=_now())
        self.quick = quick

    async def compare(
        self,
        name: str,
        candidate: Case,
        comparison: Case,
        *,
        ops: int = 1000,
        rounds: int = 7,
        max_ratio: float | None = None,
        goal: str = "",
    ) -> Row:
        """Time ``candidate`` against ``comparison`` in alternating rounds (A B A B ...).

        One warm-up round of each runs first. The ratio is the median over the rounds of the
        candidate's time over the comparison's time in the same round, so below 1 means the
        candidate is faster.

        Args:
            name: The benchmark's name in the table.
            candidate: This project's code.
            comparison: The named peer or the bare floor.
            ops: Operations per round.
            rounds: Measured rounds of each side.
            max_ratio: The goal as the largest acceptable ratio, if there is one.
            goal: The goal in words, for the table (derived from ``max_ratio`` when empty).
        """
        if self.quick:
            ops, rounds = max(1, ops // 10), 2
        await _call(candidate.run, ops)
        await _call(comparison.run, ops)
        a_times: list[float] = []
        b_times: list[float] = []
        for _ in range(rounds):
            a_times.append(await _call(candidate.run, ops) / ops)
            b_times.append(await _call(comparison.run, ops) / ops)
        a, b = statistics.median(a_times), statistics.median(b_times)
        # The median of each round's own ratio: the two sides of a round run back to back, so
        # a machine whose speed drifts (other work, a shared VM) slows both alike.
        ratio = statistics.median(
            x / y if y > 0 else float("inf") for x, y in zip(a_times, b_times, strict=True)
        )
        goal_text = goal or (f"ratio <= {max_ratio:g}" if max_ratio is not None else "report")
        row = Row(
            benchmark=name,
            candidate=candidate.label,
            comparison=comparison.label,
            candidate_s=a,
            comparison_s=b,
            ratio=ratio,
            goal=goal_text,
            met=None if max_ratio is None else ratio <= max_ratio,
            ops=ops,
            rounds=rounds,
        )
        self.result.rows.append(row)
        verdict = "" if row.met is None else (", met" if row.met else ", NOT met")
        print(
            f"  {name}: {candidate.label} {_fmt(a)} vs {comparison.label} {_fmt(b)} "
            f"-> ratio {ratio:.3f} ({goal_text}{verdict})"
        )
        return row

    def figure(self, name: str, value: str, note: str = "") -> None:
        """Record a figure that is not a ratio (e.g. ``"p99 12.3 ms"``)."""
        self.result.figures.append(Figure(name, value, note))
        print(f"  {name}: {value} {note}".rstrip())

    def save(self) -> Path:
        """Write this module's results to ``benchmarks/results/<module>.json``."""
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"{self.result.module}.json"
        path.write_text(json.dumps(asdict(self.result), indent=2) + "\n")
        return path


def _fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e9:.0f} ns"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def machine_line() -> str:
    """One line describing the machine: CPU, cores, memory, OS and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def render_markdown(results: list[ModuleResult]) -> str:
    """Render every module's results as the ``benchmarks/results.md`` document."""
    out = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks`). Times are the median per operation over",
        "alternating rounds after a warm-up; ratio = the median over the rounds of candidate /",
        "comparison in the same round (below 1: faster). Modules last run before 2026-12-07",
        "16:30 UTC (the date under each heading) give the ratio of the two medians instead.",
        "",
    ]
    for res in sorted(results, key=lambda r: r.module):
        out += [f"## {res.module}", "", f"Machine: {res.machine}. Run: {res.when}.", ""]
        if res.rows:
            out += [
                "| benchmark | candidate | comparison | candidate median | comparison median "
                "| ratio | goal | met |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for r in res.rows:
                met = "—" if r.met is None else ("yes" if r.met else "**no**")
                out.append(
                    f"| {r.benchmark} | {r.candidate} | {r.comparison} | {_fmt(r.candidate_s)} "
                    f"| {_fmt(r.comparison_s)} | {r.ratio:.3f} | {r.goal} | {met} |"
                )
            out.append("")
        if res.figures:
            out += ["| figure | value | note |", "|---|---|---|"]
            out += [f"| {f.name} | {f.value} | {f.note} |" for f in res.figures]
            out.append("")
    return "\n".join(out)


def load_results() -> list[ModuleResult]:
    """Read every module's saved results from ``benchmarks/results/``."""
    found: list[ModuleResult] = []
    for path in sorted(RESULTS_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        found.append(
            ModuleResult(
                module=data["module"],
                rows=[Row(**r) for r in data.get("rows", [])],
                figures=[Figure(**f) for f in data.get("figures", [])],
                machine=data.get("machine", ""),
                when=data.get("when", ""),
            )
        )
    return found
