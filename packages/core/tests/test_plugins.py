"""Plugin lookup through real entry points of a distribution installed on sys.path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_core.errors import ConfigurationError, MissingExtraError, PluginNotFoundError
from platform_core.plugins import available_plugins, load_plugin

GROUP = "platform_core_test.backends"


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[None]:
    """Install a tiny distribution with entry points into a path on sys.path."""
    pkg = tmp_path / "fakeplug"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("class Memory:\n    kind = 'memory'\n")
    dist = tmp_path / "fakeplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{GROUP}]\n"
        "memory = fakeplug:Memory\n"
        "fancy = fakeplug_fancy_missing.backend:Fancy [fancy]\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("fakeplug", None)


@pytest.mark.usefixtures("installed")
def test_load_and_list() -> None:
    assert available_plugins(GROUP) == ["fancy", "memory"]
    cls = load_plugin(GROUP, "memory")
    assert cls.kind == "memory"
    assert load_plugin(GROUP, " MEMORY ") is cls  # names are case-insensitive


@pytest.mark.usefixtures("installed")
def test_unknown_name_lists_installed() -> None:
    with pytest.raises(PluginNotFoundError) as info:
        load_plugin(GROUP, "cassandra", setting="STORE_BACKEND")
    msg = str(info.value)
    assert "cassandra" in msg
    assert "fancy, memory" in msg
    assert "STORE_BACKEND" in msg
    assert isinstance(info.value, ConfigurationError)
    assert info.value.setting == "STORE_BACKEND"


@pytest.mark.usefixtures("installed")
def test_missing_extra_names_the_install_line() -> None:
    with pytest.raises(MissingExtraError) as info:
        load_plugin(GROUP, "fancy")
    assert "pip install 'fakeplug[fancy]'" in str(info.value)
    assert info.value.missing == "fakeplug_fancy_missing"
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_empty_group() -> None:
    assert available_plugins("platform_core_test.nothing") == []
    with pytest.raises(PluginNotFoundError, match="installed: none"):
        load_plugin("platform_core_test.nothing", "x")
