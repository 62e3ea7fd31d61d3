"""Fixtures: the OpenAI-compatible stub server and fresh SQLite / PostgreSQL databases."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from draft_llm_stub import OpenAIStub


@pytest.fixture
def llm() -> Iterator[OpenAIStub]:
    """A running OpenAI-compatible server."""
    stub = OpenAIStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite+aiosqlite:///{tmp_path / 'drafts.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'drafts.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)
