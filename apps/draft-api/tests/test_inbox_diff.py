"""The inbox's word diff between revisions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from draft_api.ui.diff import Piece, word_diff

_words = st.lists(
    st.sampled_from(["the", "draft", "Ann", "lunch", "noon,", "Friday.", "\n", "  ", "ok"]),
    max_size=30,
).map(" ".join)


@given(_words, _words)
def test_the_pieces_give_back_both_revisions(old: str, new: str) -> None:
    pieces = word_diff(old, new)
    assert "".join(p.text for p in pieces if p.kind != "ins") == old
    assert "".join(p.text for p in pieces if p.kind != "del") == new


def test_a_changed_word_is_a_deletion_then_an_insertion() -> None:
    assert word_diff("Hi Ann, lunch at noon.", "Dear Ann, lunch at one.") == [
        Piece("del", "Hi "),
        Piece("ins", "Dear "),
        Piece("same", "Ann, lunch at "),
        Piece("del", "noon."),
        Piece("ins", "one."),
    ]


def test_identical_revisions_have_no_changes() -> None:
    text = "Thanks, see you on Friday."
    assert word_diff(text, text) == [Piece("same", text)]
