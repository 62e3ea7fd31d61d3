"""Both demos end to end, on the in-memory backend and on real Redis."""

from __future__ import annotations

import pytest

from necrostack import Backend, InMemoryBackend
from necrostack.demos import run_demo

from .conftest import MakeBackend


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        return InMemoryBackend()
    make: MakeBackend = request.getfixturevalue("make_backend")
    return make()


async def test_seance_reveals_an_omen(backend: Backend) -> None:
    lines: list[str] = []
    result = await run_demo("seance", backend, lines.append, until_idle=0.3)
    assert len(lines) == 1
    assert lines[0].startswith("Madame Ossuary answers 'Who is there?': ")
    assert "Omen: " in lines[0]
    assert result["omen"] in lines[0]


async def test_etl_summarises_the_cleaned_sample(backend: Backend) -> None:
    lines: list[str] = []
    result = await run_demo("etl", backend, lines.append, until_idle=0.3)
    assert result["rows"] == 4
    assert result["dropped"] == 2  # Carol (no city) and dave (no score)
    assert set(result["stats"]) == {"age", "score"}
    age = result["stats"]["age"]
    assert age == {"min": 27.0, "max": 45.0, "sum": 144.0, "avg": 36.0, "count": 4}
    assert result["stats"]["score"]["sum"] == pytest.approx(88.5 + 92 + 64.25 + 81)
    assert lines[0] == "rows kept: 4, dropped: 2"
    assert any(line.startswith("age: min=27 max=45 sum=144 avg=36.00 count=4") for line in lines)


async def test_cleaning_trims_and_lowercases_strings() -> None:
    from necrostack import Event, Spine
    from necrostack.demos.etl import CleanData, ExtractCSV, etl_start

    cleaned: list[Event] = []

    class Keep(CleanData):
        def handle(self, event: Event) -> Event:
            out = super().handle(event)
            cleaned.append(out)
            return out

    await Spine([ExtractCSV(), Keep()], InMemoryBackend()).run(etl_start(), until_idle=0.1)
    rows = cleaned[0].payload["rows"]
    assert rows[0] == {"name": "alice", "city": "paris", "age": 34.0, "score": 88.5}
    assert rows[1]["city"] == "lyon"
