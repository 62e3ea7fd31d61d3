"""The console stream's hint coalescing: at most one hint per window, never losing the last."""

from __future__ import annotations

from taskqueue_server.ui.stream import Coalescer


def test_a_burst_sends_the_first_hint_at_once_and_the_last_at_the_end_of_the_window() -> None:
    hints = Coalescer(0.25)
    assert hints.offer("changed", 10.0)  # leading edge
    assert not hints.offer("changed", 10.05)
    assert not hints.offer("changed", 10.2)  # still one held hint, not three
    assert hints.next_due() == 10.25
    assert hints.flush(10.2) == []
    assert hints.flush(10.25) == ["changed"]  # trailing edge: the burst's last change
    assert hints.next_due() is None
    assert not hints.offer("changed", 10.3)  # within the window of the flushed hint
    assert hints.flush(10.5) == ["changed"]
    assert hints.offer("changed", 11.0)  # a quiet window later: at once again


def test_names_are_coalesced_apart() -> None:
    hints = Coalescer(0.5)
    assert hints.offer("task-a", 1.0)
    assert hints.offer("task-b", 1.1)
    assert not hints.offer("task-a", 1.2)
    assert hints.flush(1.6) == ["task-a"]
