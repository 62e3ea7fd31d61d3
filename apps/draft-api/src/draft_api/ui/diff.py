"""A word diff between two revisions of a draft, for ``<ins>``/``<del>`` markup."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Piece", "word_diff"]

# A word with the spaces after it: joining the pieces gives the text back exactly.
_TOKEN = re.compile(r"\s+|\S+\s*")


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of text that is the same in both revisions, or only in the old or the new one."""

    kind: Literal["same", "del", "ins"]
    text: str


def word_diff(old: str, new: str) -> list[Piece]:
    """The changes from ``old`` to ``new`` word by word, replacements as deletion then insertion.

    Joining the ``same`` and ``del`` pieces gives ``old``; ``same`` and ``ins`` give ``new``.
    """
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    # autojunk off: long drafts repeat common words, and those must still match.
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    pieces: list[Piece] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(Piece("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(Piece("del", "".join(a[i1:i2])))
        if j2 > j1:
            pieces.append(Piece("ins", "".join(b[j1:j2])))
    return pieces
