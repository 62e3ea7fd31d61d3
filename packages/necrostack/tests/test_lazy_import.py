"""``import necrostack`` and ``necrostack --help`` stay cheap; every public name still resolves."""

from __future__ import annotations

import pytest

import necrostack
from necrostack.cli import DEMO_NAMES
from necrostack.demos.runner import DEMOS
from platform_core.testing import modules_imported_by, top_level_packages

HEAVY = ("pydantic", "opentelemetry", "structlog", "orjson", "redis", "rich", "asyncio")


def test_import_loads_no_dependency() -> None:
    loaded = modules_imported_by("import necrostack")
    assert top_level_packages(loaded, HEAVY) == []
    assert sorted(m for m in loaded if m.startswith("necrostack.")) == []


def test_help_loads_neither_the_demos_nor_pydantic() -> None:
    code = (
        "from necrostack.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    loaded = modules_imported_by(code)
    assert top_level_packages(loaded, [*HEAVY[:-1], "necrostack.demos", "necrostack.spine"]) == []


def test_the_cli_offers_exactly_the_demos_there_are() -> None:
    assert tuple(sorted(DEMOS)) == DEMO_NAMES


@pytest.mark.parametrize("name", necrostack.__all__)
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(necrostack, name) is not None
    assert name in dir(necrostack)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'Skeleton'"):
        _ = necrostack.Skeleton  # type: ignore[attr-defined]
