"""The overview's throughput chart, drawn on the server as SVG (no script, no inline style)."""

from __future__ import annotations

from dataclasses import dataclass

from taskqueue_server.db.console import Throughput

__all__ = ["Bar", "Chart", "throughput_chart"]

WIDTH = 600
HEIGHT = 160
_TOP = 4
_BOTTOM = 1
_LEFT = 0


@dataclass(frozen=True)
class Bar:
    """One bucket's stacked bar: completed on top of failed (SVG coordinates)."""

    x: float
    width: float
    completed_y: float
    completed_h: float
    failed_y: float
    failed_h: float
    title: str


@dataclass(frozen=True)
class Chart:
    """The chart's geometry and its text alternative."""

    width: int
    height: int
    left: int
    base: float
    top: int
    peak: int
    bars: list[Bar]
    summary: str


def throughput_chart(data: Throughput) -> Chart:
    """Stacked bars of completed and failed tasks per bucket, scaled to the busiest bucket."""
    count = len(data.completed)
    peak = max([c + f for c, f in zip(data.completed, data.failed, strict=True)] + [1])
    plot_h = HEIGHT - _TOP - _BOTTOM
    slot = (WIDTH - _LEFT) / max(count, 1)
    base = float(HEIGHT - _BOTTOM)
    bars = []
    for i, (done, failed) in enumerate(zip(data.completed, data.failed, strict=True)):
        failed_h = plot_h * failed / peak
        done_h = plot_h * done / peak
        minutes_ago = (count - i) * data.bucket_minutes
        bars.append(
            Bar(
                x=_LEFT + i * slot + slot * 0.15,
                width=slot * 0.7,
                failed_y=base - failed_h,
                failed_h=failed_h,
                completed_y=base - failed_h - done_h,
                completed_h=done_h,
                title=f"{minutes_ago}-{minutes_ago - data.bucket_minutes} min ago: "
                f"{done} completed, {failed} failed",
            )
        )
    total_done, total_failed = sum(data.completed), sum(data.failed)
    busiest = peak if total_done or total_failed else 0
    summary = (
        f"In the last hour {total_done} tasks completed and {total_failed} failed; "
        f"the busiest {data.bucket_minutes}-minute interval had {busiest}."
    )
    return Chart(WIDTH, HEIGHT, _LEFT, base, _TOP, peak, bars, summary)
