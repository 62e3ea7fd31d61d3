"""Print the hatch matrix packages whose files changed since a base revision, one per line.

Usage: ``python scripts/changed_packages.py [BASE]``. BASE defaults to ``$CI_BASE_REF``, else
``origin/main`` when that ref exists and differs from HEAD, else ``HEAD~1`` (on main after a
merge: what the merge brought in). A change under ``packages/<folder>/`` or ``apps/<name>/``
selects that package; ``tests/`` or ``scripts/run_stack.py`` selects ``e2e``; a change to
``platform-core`` also selects ``e2e`` (every flow runs through it). Changes elsewhere (docs,
root configuration) select nothing: ``make test`` already covers them on the default Python.
"""

from __future__ import annotations

import os
import subprocess
import sys

FOLDERS = {
    "packages/core/": "core",
    "packages/necrostack/": "necrostack",
    "packages/activity-store/": "activity-store",
    "packages/api-core/": "api-core",
    "packages/taskqueue-sdk/": "taskqueue-sdk",
    "packages/draft-service/": "draft-service",
    "apps/taskqueue-server/": "taskqueue-server",
    "apps/draft-api/": "draft-api",
    "tests/": "e2e",
    "scripts/run_stack.py": "e2e",
}
ORDER = list(dict.fromkeys(FOLDERS.values()))


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def base_ref(argv: list[str]) -> str:
    """The revision to compare HEAD with."""
    if argv:
        return argv[0]
    if os.environ.get("CI_BASE_REF"):
        return os.environ["CI_BASE_REF"]
    try:
        if _git("rev-parse", "origin/main").strip() != _git("rev-parse", "HEAD").strip():
            return _git("merge-base", "origin/main", "HEAD").strip()
    except subprocess.CalledProcessError:
        pass
    return "HEAD~1"


def changed(base: str) -> list[str]:
    """The matrix packages with a changed file between ``base`` and HEAD."""
    files = _git("diff", "--name-only", base, "HEAD").splitlines()
    found = {name for f in files for prefix, name in FOLDERS.items() if f.startswith(prefix)}
    if "core" in found:
        found.add("e2e")
    return [name for name in ORDER if name in found]


if __name__ == "__main__":
    print("\n".join(changed(base_ref(sys.argv[1:]))))
