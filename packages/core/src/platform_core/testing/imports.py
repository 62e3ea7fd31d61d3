"""What a piece of code imports, seen from a fresh interpreter: for tests that pin laziness."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable

__all__ = ["modules_imported_by", "top_level_packages"]

_REPORT = "\nimport json as _j, sys as _s\n_s.stdout.write('\\n' + _j.dumps(sorted(_s.modules)))\n"


def modules_imported_by(code: str, *, timeout: float = 120.0) -> frozenset[str]:
    """Run ``code`` in a fresh interpreter (this one's executable) and return ``sys.modules``.

    Args:
        code: Python statements, e.g. ``"import platform_core"``.
        timeout: Seconds before the child is killed and the call fails.

    Raises:
        AssertionError: the code failed; the message holds its standard error.
    """
    done = subprocess.run(
        [sys.executable, "-c", code + _REPORT],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"{code!r} failed with exit {done.returncode}: {done.stderr}")
    return frozenset(json.loads(done.stdout.rsplit("\n", 1)[-1]))


def top_level_packages(modules: Iterable[str], among: Iterable[str]) -> list[str]:
    """The names in ``among`` that ``modules`` holds, or holds a submodule of, sorted.

    ``among`` may name a submodule (``importlib.metadata``): it matches itself and its children.
    """
    loaded = set(modules)
    return sorted(
        name
        for name in set(among)
        if name in loaded or any(m.startswith(name + ".") for m in loaded)
    )
