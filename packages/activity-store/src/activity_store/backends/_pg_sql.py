"""SQL for the PostgreSQL backend: row values from an object, and queries from a Query."""

# Statements interpolate only the schema (a quoted identifier) and $n placeholders; values
# always travel as bind parameters.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from activity_store._index import Indexed, query_words
from activity_store.ld import type_iris
from activity_store.query import Query, decode_cursor

# PostgreSQL refuses tsvector lexemes of 2 KiB or more; longer "words" are left unsearchable.
_MAX_LEXEME_BYTES = 2046

SEARCH_COLUMNS = "id, types, former_types, tags, words, published, updated"


def key(text: str) -> bytes:
    """The fixed-size primary-key value of an id of any length."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def search_values(obj: dict[str, Any]) -> list[Any]:
    """The values of :data:`SEARCH_COLUMNS` for ``obj`` (words as a text array)."""
    ix = Indexed.of(obj)
    lexemes = sorted(w for w in ix.words if len(w.encode("utf-8")) <= _MAX_LEXEME_BYTES)
    return [
        ix.id,
        list(ix.types),
        list(ix.former_types),
        list(ix.tags),
        lexemes,
        ix.published,
        ix.updated,
    ]


def search_placeholders(start: int) -> str:
    """``$n`` placeholders for :data:`SEARCH_COLUMNS`, the words turned into a tsvector."""
    n = start
    return (
        f"${n}, ${n + 1}::text[], ${n + 2}::text[], ${n + 3}::text[], "
        f"array_to_tsvector(${n + 4}::text[]), ${n + 5}, ${n + 6}"
    )


UPDATE_SEARCH = ", ".join(f"{column} = EXCLUDED.{column}" for column in SEARCH_COLUMNS.split(", "))


def _tsquery(words: list[str]) -> str:
    quoted = ("'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in words)
    return " & ".join(quoted)


@dataclass
class Select:
    """A query's page and count statements and their arguments."""

    page: str
    count: str
    args: list[Any] = field(default_factory=list)
    count_args: list[Any] = field(default_factory=list)


def build(query: Query, schema: str) -> Select:
    """Translate ``query`` into SQL over the objects or one collection's members.

    Rows are ordered as the memory backend orders them: by the date (missing last) then id,
    or by id, in code-point order (the ``C`` collation); ``id_head`` (the id's first 256
    characters) sorts like the id and lets an index serve the order.
    """
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if query.collection is not None:
        table, holder = f"{schema}.members", "member"
        where = [f"collection_key = {arg(key(query.collection))}"]
    else:
        table, holder, where = f"{schema}.objects", "doc", []
    wanted = query_words(query.text)
    if wanted:
        where.append(f"words @@ {arg(_tsquery(wanted))}::tsquery")
    if query.keywords:
        where.append(f"tags && {arg([k.lower() for k in query.keywords])}::text[]")
    if query.type is not None:
        types = arg(list(type_iris(query.type)))
        if query.include_deleted:
            where.append(f"(types && {types}::text[] OR former_types && {types}::text[])")
        else:
            where.append(f"types && {types}::text[]")
    count_args = list(args)
    count_where = " AND ".join(where) or "TRUE"
    sort, descending = query.sort_field, query.descending
    if sort == "id":
        direction = "DESC" if descending else "ASC"
        order = f"id_head {direction}, id {direction}"
        sort_expr = "NULL::bigint"
    else:
        order = f"{sort} {'DESC' if descending else 'ASC'} NULLS LAST, id_head, id"
        sort_expr = sort
    if query.after is not None:
        value, last_id = decode_cursor(query.after)[-2:]
        after_id = f"(id_head, id) {'<' if sort == 'id' and descending else '>'} " + (
            f"(left({arg(str(last_id))}::text, 256), ${len(args)}::text)"
        )
        if sort == "id":
            where.append(after_id)
        elif value is None:
            where.append(f"({sort} IS NULL AND {after_id})")
        else:
            v = arg(int(value))
            beyond = "<" if descending else ">"
            where.append(
                f"({sort} {beyond} {v} OR {sort} IS NULL OR ({sort} = {v} AND {after_id}))"
            )
    page_where = " AND ".join(where) or "TRUE"
    page = (
        f"SELECT {holder}::text, id, {sort_expr} FROM {table} WHERE {page_where} "
        f"ORDER BY {order} LIMIT {arg(query.size + 1)}"
    )
    count = f"SELECT count(*) FROM {table} WHERE {count_where}"
    return Select(page=page, count=count, args=args, count_args=count_args)
