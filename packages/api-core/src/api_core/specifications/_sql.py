"""Dialect-aware SQL constructs that make SQL agree with in-memory evaluation.

Two differences between databases and Python are smoothed here:

* String ordering: Python compares code points. PostgreSQL compares by the column's collation,
  so comparisons there use ``COLLATE "C"`` (byte order of UTF-8, which is code-point order).
  SQLite's default ``BINARY`` collation already is code-point order.
* LIKE: the documented rule is *case-sensitive*. PostgreSQL's ``LIKE`` is; SQLite's is not
  (ASCII letters fold), so on SQLite the pattern is translated to the case-sensitive ``GLOB``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean

__all__ = ["CaseSensitiveLike", "CodePointOrder", "like_to_glob"]


class CodePointOrder(ColumnElement[Any]):
    """A column whose comparisons order strings by code point on every dialect."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(CodePointOrder)
def _compile_plain(element: CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(CodePointOrder, "postgresql")
def _compile_pg(element: CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.column, **kw)} COLLATE "C")'


class CaseSensitiveLike(ColumnElement[bool]):
    """``column LIKE pattern`` with ``\\`` as escape, case-sensitive on every dialect."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [  # noqa: RUF012
        ("column", InternalTraversal.dp_clauseelement),
        ("like_param", InternalTraversal.dp_clauseelement),
        ("glob_param", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], pattern: str) -> None:
        self.column = column
        self.like_param: BindParameter[str] = bindparam(None, pattern, type_=String())
        self.glob_param: BindParameter[str] = bindparam(None, like_to_glob(pattern), type_=String())


@compiles(CaseSensitiveLike)
def _compile_like(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    col = compiler.process(element.column, **kw)
    return f"{col} LIKE {compiler.process(element.like_param, **kw)} ESCAPE '\\'"


@compiles(CaseSensitiveLike, "sqlite")
def _compile_glob(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    col = compiler.process(element.column, **kw)
    return f"{col} GLOB {compiler.process(element.glob_param, **kw)}"


def like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (``%``, ``_``, ``\\`` escape) into an SQLite GLOB pattern."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(f"[{char}]" if char in "*?[" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(f"[{char}]" if char in "*?[" else char)
    if escaped:
        out.append("\\")
    return "".join(out)
