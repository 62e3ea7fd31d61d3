"""Specifications in memory and as SQL (properties 2-5 of the seed)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api_core import (
    ComparisonOperator,
    FieldSpecification,
    InvalidFilterError,
    Specification,
    SpecificationBuilder,
    SpecificationError,
    UnknownFieldError,
    and_,
    not_,
    or_,
    specification_from_query,
)


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(40))
    qty: Mapped[int | None]
    price: Mapped[float | None] = mapped_column(sa.Float)
    rank: Mapped[int] = mapped_column(default=0)  # NOT NULL: compiled without the NULL guard


def F(field: str, op: str, value: Any = True) -> FieldSpecification:
    return FieldSpecification(field, op, value)


ROWS = [
    {"id": 1, "name": "Apple", "qty": 3, "price": 1.5, "rank": 1},
    {"id": 2, "name": "apple pie", "qty": None, "price": 4.0, "rank": 2},
    {"id": 3, "name": None, "qty": 10, "price": None, "rank": 3},
    {"id": 4, "name": "50%_off", "qty": 0, "price": 0.0, "rank": 4},
]


def ids(spec: Specification) -> set[int]:
    return {r["id"] for r in ROWS if spec.is_satisfied_by(r)}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (F("qty", "eq", 3), {1}),
        (F("qty", "ne", 3), {3, 4}),
        (F("qty", "gt", 0), {1, 3}),
        (F("qty", "ge", 0), {1, 3, 4}),
        (F("qty", "lt", 10), {1, 4}),
        (F("qty", "le", 10), {1, 3, 4}),
        (F("qty", "in", [0, 10]), {3, 4}),
        (F("qty", "in", []), set()),
        (F("qty", "between", (1, 10)), {1, 3}),
        (F("qty", "is_null", True), {2}),
        (F("qty", "is_null", False), {1, 3, 4}),
        (F("name", "like", "App%"), {1}),
        (F("name", "like", "%pie"), {2}),
        (F("name", "like", "_pple%"), {1, 2}),
        (F("name", "like", "50\\%\\_off"), {4}),
        (F("name", "like", "50\\%_off"), {4}),
        (~F("qty", "eq", 3), {2, 3, 4}),
        (F("qty", "gt", 0) & F("price", "lt", 2), {1}),
        (F("qty", "eq", 0) | F("name", "like", "%pie"), {2, 4}),
        (and_(), {1, 2, 3, 4}),
        (or_(), set()),
        (~F("rank", "in", [1, 2]), {3, 4}),
    ],
)
def test_operators_in_memory_and_sqlite(spec: Specification, expected: set[int]) -> None:
    assert ids(spec) == expected
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(Row), ROWS)
        got = set(conn.scalars(sa.select(Row.id).where(spec.to_sql_condition(Row))))
    engine.dispose()
    assert got == expected


def test_like_is_case_sensitive() -> None:
    assert not F("name", "like", "apple%").is_satisfied_by({"name": "Apple"})
    assert F("name", "like", "Apple").is_satisfied_by({"name": "Apple"})


def test_unknown_field_names_field_and_model() -> None:
    with pytest.raises(UnknownFieldError, match=r"'colour' on Row"):
        F("colour", "eq", "red").to_sql_condition(Row)
    with pytest.raises(UnknownFieldError, match=r"'colour' on dict"):
        F("colour", "eq", "red").is_satisfied_by({"name": "x"})


@pytest.mark.parametrize(
    ("op", "value", "message"),
    [
        ("approx", 1, "unknown operator 'approx'"),
        ("eq", None, "use is_null"),
        ("in", "abc", "list of values"),
        ("between", (1,), r"\(low, high\)"),
        ("is_null", "yes", "True or False"),
        ("like", "abc\\", "lone escape"),
    ],
)
def test_bad_specifications_are_rejected(op: str, value: Any, message: str) -> None:
    with pytest.raises(SpecificationError, match=message):
        FieldSpecification("qty", op, value)


def test_like_on_number_column_is_rejected() -> None:
    with pytest.raises(SpecificationError, match="string column"):
        F("qty", "like", "1%").to_sql_condition(Row)


def test_builder_is_left_associative() -> None:
    spec = (
        SpecificationBuilder()
        .where("qty", "ge", 3)
        .and_where("price", "lt", 2)
        .or_where("name", ComparisonOperator.LIKE, "50%")
        .build()
    )
    assert ids(spec) == {1, 4}
    assert ids(SpecificationBuilder().build()) == {1, 2, 3, 4}


def test_double_negation_and_flattening() -> None:
    a, b, c = F("qty", "eq", 1), F("qty", "eq", 2), F("qty", "eq", 3)
    assert not_(not_(a)) is a
    assert len(and_(and_(a, b), c).parts) == 3  # type: ignore[attr-defined]


def test_query_params_to_specification() -> None:
    spec = specification_from_query(
        {
            "status": "eq:Running",
            "created_at": "ge:2026-01-01",
            "tag": ["in:a,b", "ne:c"],
            "title": "like:%re%",
            "deleted_at": "is_null:true",
            "priority": "between:1,5",
            "note": "no:op",
        },
        {
            "status": str,
            "created_at": datetime,
            "tag": str,
            "title": str,
            "deleted_at": datetime,
            "priority": int,
            "note": str,
        },
    )
    assert spec is not None
    parts = {(p.field, p.operator.value, p.value) for p in spec.parts}  # type: ignore[attr-defined]
    assert parts == {
        ("status", "eq", "Running"),
        ("created_at", "ge", datetime(2026, 1, 1)),
        ("tag", "in", ("a", "b")),
        ("tag", "ne", "c"),
        ("title", "like", "%re%"),
        ("deleted_at", "is_null", True),
        ("priority", "between", (1, 5)),
        ("note", "eq", "no:op"),
    }
    assert specification_from_query({}, {"status": str}) is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"secret": "eq:1"}, "not a filterable field"),
        ({"priority": "gt:high"}, "'high' is not valid"),
        ({"priority": "between:1"}, "two values"),
        ({"priority": "is_null:maybe"}, "true or false"),
        ({"status": "like:a\\"}, "lone escape"),
    ],
)
def test_bad_query_params(params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidFilterError, match=message):
        specification_from_query(params, {"priority": int, "status": str})


# --- properties --------------------------------------------------------------------------

_ALPHABET = "aAbZ%_\\é "
names = st.none() | st.text(alphabet=_ALPHABET, max_size=5)
qtys = st.none() | st.integers(-5, 5)
prices = st.none() | st.floats(-4, 4, allow_nan=False, width=32).map(float)
rows_st = st.lists(st.tuples(names, qtys, prices, st.integers(-3, 3)), max_size=8)


def _pattern() -> st.SearchStrategy[str]:
    piece = st.sampled_from(["a", "A", "b", "é", " ", "%", "_", "\\%", "\\_", "\\\\"])
    return st.lists(piece, max_size=4).map("".join)


def _leaf() -> st.SearchStrategy[Specification]:
    plain = st.text(alphabet=_ALPHABET.replace("\\", ""), max_size=4)
    ints = st.integers(-5, 5)
    floats = st.floats(-4, 4, allow_nan=False, width=32).map(float)
    ops = st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"])
    by_field: list[st.SearchStrategy[Specification]] = []
    for field, values in (("name", plain), ("qty", ints), ("price", floats), ("rank", ints)):
        by_field += [
            st.builds(FieldSpecification, st.just(field), ops, values),
            st.builds(
                FieldSpecification, st.just(field), st.just("in"), st.lists(values, max_size=3)
            ),
            st.builds(
                FieldSpecification, st.just(field), st.just("between"), st.tuples(values, values)
            ),
            st.builds(FieldSpecification, st.just(field), st.just("is_null"), st.booleans()),
        ]
    by_field.append(st.builds(FieldSpecification, st.just("name"), st.just("like"), _pattern()))
    return st.one_of(by_field)


specs = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: a & b, inner, inner),
        st.builds(lambda a, b: a | b, inner, inner),
        st.builds(lambda a: ~a, inner),
    ),
    max_leaves=6,
)


def _as_dicts(rows: list[tuple[Any, Any, Any, Any]]) -> list[dict[str, Any]]:
    return [
        {"id": i, "name": n, "qty": q, "price": p, "rank": r} for i, (n, q, p, r) in enumerate(rows)
    ]


@given(rows=rows_st, spec=specs)
def test_property_negation_is_complement(
    rows: list[tuple[Any, Any, Any, Any]], spec: Specification
) -> None:
    for row in _as_dicts(rows):
        assert (~spec).is_satisfied_by(row) is (not spec.is_satisfied_by(row))


@given(rows=rows_st, a=specs, b=specs)
def test_property_composition(
    rows: list[tuple[Any, Any, Any, Any]], a: Specification, b: Specification
) -> None:
    for row in _as_dicts(rows):
        assert (a & b).is_satisfied_by(row) == (a.is_satisfied_by(row) and b.is_satisfied_by(row))
        assert (a | b).is_satisfied_by(row) == (a.is_satisfied_by(row) or b.is_satisfied_by(row))


def _check_sql_equivalence(engine: sa.Engine) -> None:
    Base.metadata.create_all(engine)

    @given(rows=rows_st, spec=specs)
    def equivalent(rows: list[tuple[Any, Any, Any, Any]], spec: Specification) -> None:
        data = _as_dicts(rows)
        expected = {r["id"] for r in data if spec.is_satisfied_by(r)}
        with engine.begin() as conn:
            conn.execute(sa.delete(Row))
            if data:
                conn.execute(sa.insert(Row), data)
            got = set(conn.scalars(sa.select(Row.id).where(spec.to_sql_condition(Row))))
        assert got == expected, spec

    equivalent()


def test_property_sql_equivalence_sqlite() -> None:
    engine = sa.create_engine("sqlite://")
    try:
        _check_sql_equivalence(engine)
    finally:
        engine.dispose()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    yield engine
    engine.dispose()


def test_property_sql_equivalence_postgres(pg_engine: sa.Engine) -> None:
    _check_sql_equivalence(pg_engine)
