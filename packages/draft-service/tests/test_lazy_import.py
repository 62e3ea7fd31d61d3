"""``import draft_service`` and ``draft-service --help`` stay cheap (issue 14: under 0.6 s)."""

from __future__ import annotations

import pytest

import draft_service
from platform_core.testing import modules_imported_by, top_level_packages

HEAVY = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "openai",
    "httpx",
    "pydantic",
    "pydantic_settings",
    "structlog",
    "orjson",
    "rich",
    "api_core",
    "necrostack",
    "activity_store",
)


def test_import_loads_only_errors_and_prompt_types() -> None:
    loaded = modules_imported_by("import draft_service")
    assert top_level_packages(loaded, HEAVY) == []
    own = sorted(m for m in loaded if m.startswith("draft_service."))
    assert own == ["draft_service.errors", "draft_service.prompt"]


def test_help_loads_neither_settings_nor_the_app() -> None:
    code = (
        "from draft_service.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert top_level_packages(modules_imported_by(code), HEAVY) == []


@pytest.mark.parametrize("name", draft_service.__all__)
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(draft_service, name) is not None
    assert name in dir(draft_service)
