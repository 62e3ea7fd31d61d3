"""``import activity_store`` loads nothing else; every public name still resolves."""

from __future__ import annotations

import pytest

import activity_store
from platform_core.testing import modules_imported_by, top_level_packages

HEAVY = ("pydantic", "structlog", "orjson", "redis", "elasticsearch", "psycopg", "pyld", "rich")


def test_import_loads_no_dependency() -> None:
    loaded = modules_imported_by("import activity_store")
    assert top_level_packages(loaded, HEAVY) == []
    assert sorted(m for m in loaded if m.startswith("activity_store.")) == []


@pytest.mark.parametrize("name", activity_store.__all__)
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(activity_store, name) is not None
    assert name in dir(activity_store)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'Shelf'"):
        _ = activity_store.Shelf  # type: ignore[attr-defined]
