"""``import api_core`` and ``api-core --help`` load none of what a plain app may not use."""

from __future__ import annotations

import pytest

import api_core
from platform_core.testing import modules_imported_by, top_level_packages

HEAVY = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "pydantic",
    "pydantic_settings",
    "structlog",
    "orjson",
    "opentelemetry",
    "redis",
    "rich",
)


def test_import_loads_no_dependency() -> None:
    loaded = modules_imported_by("import api_core")
    assert top_level_packages(loaded, HEAVY) == []
    assert sorted(m for m in loaded if m.startswith("api_core.")) == []


def test_help_loads_no_settings_machinery() -> None:
    code = (
        "from api_core.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert top_level_packages(modules_imported_by(code), HEAVY) == []


@pytest.mark.parametrize("name", api_core.__all__)
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(api_core, name) is not None
    assert name in dir(api_core)
