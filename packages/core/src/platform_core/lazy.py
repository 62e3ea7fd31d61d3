"""Lazy public names for a package's ``__init__`` (PEP 562), so importing it stays cheap.

Usage, at the end of a package's ``__init__.py``::

    __getattr__, __dir__ = lazy_exports(__name__, globals(), {"Spine": "necrostack.spine"})

A name loads its module on first use and is then kept in the package's namespace, so later
lookups skip ``__getattr__``. This module imports nothing beyond ``sys``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, namespace: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` that load ``exports`` on first use.

    Args:
        package: The package's ``__name__`` (for the error message).
        namespace: The package's ``globals()``; each loaded name is stored there.
        exports: Public name -> the module that defines it.
    """

    def get_attribute(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        __import__(module)  # not importlib: keeps this helper free of further imports
        value = getattr(sys.modules[module], name)
        namespace[name] = value
        return value

    def list_names() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return get_attribute, list_names
