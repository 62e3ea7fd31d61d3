"""``import platform_core`` is cheap: heavy dependencies load with the name that needs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import platform_core
from platform_core.testing import modules_imported_by, top_level_packages

# What platform_core depends on (or may find installed) and must not load at import.
HEAVY = (
    "structlog",
    "orjson",
    "pydantic",
    "pydantic_settings",
    "redis",
    "opentelemetry",
    "rich",
    "importlib.metadata",
    "typing",
)


def test_import_loads_none_of_the_heavy_dependencies() -> None:
    loaded = modules_imported_by("import platform_core")
    assert top_level_packages(loaded, HEAVY) == []


def test_star_import_resolves_every_name_without_structlog_or_pydantic() -> None:
    # The modules behind the names are themselves light until a function is called.
    loaded = modules_imported_by("from platform_core import *")
    assert top_level_packages(loaded, HEAVY[:-1]) == []


def test_a_module_level_logger_does_not_load_structlog_until_it_logs() -> None:
    code = (
        "import sys\n"
        "from platform_core import get_logger\n"
        "log = get_logger('lazy', service='demo')\n"
        "print('structlog' in sys.modules)\n"
        "from platform_core import configure_logging\n"
        "configure_logging('INFO', 'json', stream=sys.stdout)\n"
        "log.info('first line', n=1)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    before, line = done.stdout.splitlines()
    assert before == "False"
    event = json.loads(line)
    assert (event["event"], event["service"], event["n"], event["logger"]) == (
        "first line",
        "demo",
        1,
        "lazy",
    )


@pytest.mark.parametrize("name", platform_core.__all__)
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(platform_core, name) is not None
    assert name in dir(platform_core)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'no_such_name'"):
        _ = platform_core.no_such_name  # type: ignore[attr-defined]


def test_plugins_read_entry_points_only_when_asked() -> None:
    code = "from platform_core.plugins import available_plugins"
    assert top_level_packages(modules_imported_by(code), ["importlib.metadata"]) == []
    asked = modules_imported_by(code + "\navailable_plugins('necrostack.backends')")
    assert top_level_packages(asked, ["importlib.metadata"]) == ["importlib.metadata"]
