"""Cross-package rules from ARCHITECTURE.md, checked on the source tree."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "platform_core": ROOT / "packages/core",
    "necrostack": ROOT / "packages/necrostack",
    "activity_store": ROOT / "packages/activity-store",
    "api_core": ROOT / "packages/api-core",
    "taskqueue": ROOT / "packages/taskqueue-sdk",
    "draft_service": ROOT / "packages/draft-service",
}
APPS = {"taskqueue_server", "draft_api"}
# Which siblings each import name may use (ARCHITECTURE.md, "Which way imports flow").
ALLOWED = {
    "platform_core": set(),
    "necrostack": {"platform_core"},
    "activity_store": {"platform_core"},
    "api_core": {"platform_core"},
    "taskqueue": {"platform_core"},
    "draft_service": {"platform_core", "api_core", "necrostack", "activity_store"},
}


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return found


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_import_direction(name: str) -> None:
    siblings = set(PACKAGES) - {name}
    bad: list[str] = []
    for path in (PACKAGES[name] / "src").rglob("*.py"):
        for module, line in _imports(path):
            top = module.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line} imports {module}"
            if top in APPS:
                bad.append(where + " (nothing imports apps)")
            elif top in siblings and top not in ALLOWED[name]:
                bad.append(where + f" ({name} may import only {sorted(ALLOWED[name])})")
            elif top in siblings and any(p.startswith("_") for p in module.split(".")[1:]):
                bad.append(where + " (a sibling's private module)")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_package_shape(name: str) -> None:
    root = PACKAGES[name]
    src = root / "src" / name
    assert (src / "py.typed").exists(), f"{src} lacks py.typed"
    assert (root / "README.md").exists()
    init = ast.parse((src / "__init__.py").read_text())
    exported = [
        n
        for n in init.body
        if isinstance(n, ast.Assign | ast.AnnAssign) and "__all__" in ast.unparse(n)
    ]
    assert exported, f"{src}/__init__.py must define __all__"
    meta = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"] == ">=3.11"
    for dep in meta.get("dependencies", []):
        assert "file:" not in dep, f"{name} declares a sibling by path: {dep}"
        assert " @ " not in dep, f"{name} declares a dependency by URL: {dep}"
