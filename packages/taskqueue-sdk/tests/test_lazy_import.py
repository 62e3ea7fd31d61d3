"""``import taskqueue`` loads neither httpx nor the wire models; ``taskqueue --help`` no httpx."""

from __future__ import annotations

import pytest

import taskqueue
from platform_core.testing import modules_imported_by, top_level_packages

HEAVY = ("httpx", "pydantic", "pydantic_settings", "structlog", "orjson", "rich", "click")


def test_import_loads_no_dependency() -> None:
    loaded = modules_imported_by("import taskqueue")
    assert top_level_packages(loaded, HEAVY) == []
    assert sorted(m for m in loaded if m.startswith("taskqueue.")) == []


def test_a_webhook_helper_needs_no_http_client() -> None:
    loaded = modules_imported_by("from taskqueue import verify_webhook")
    assert top_level_packages(loaded, ["httpx", "taskqueue.sync_client"]) == []


def test_help_does_not_load_the_http_client() -> None:
    code = (
        "from taskqueue.cli import cli\n"
        "try:\n"
        "    cli(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    loaded = modules_imported_by(code)
    assert top_level_packages(loaded, ["httpx", "structlog", "taskqueue.sync_client"]) == []


@pytest.mark.parametrize("name", taskqueue.__all__)
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(taskqueue, name) is not None
    assert name in dir(taskqueue)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'Queue'"):
        _ = taskqueue.Queue  # type: ignore[attr-defined]
