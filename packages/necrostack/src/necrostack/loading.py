"""Choosing a backend by name through the ``necrostack.backends`` entry-point group."""

from __future__ import annotations

from typing import Any

from necrostack.backends.base import Backend
from platform_core.plugins import load_plugin

__all__ = ["BACKEND_GROUP", "load_backend"]

BACKEND_GROUP = "necrostack.backends"


def load_backend(name: str, *, setting: str | None = None, **options: Any) -> Backend:
    """Build the backend registered as ``name`` (``memory``, ``redis``, or a third party's).

    Args:
        name: The entry-point name.
        setting: The setting that chose ``name``, named in errors.
        **options: Passed to the backend class.

    Raises:
        platform_core.errors.PluginNotFoundError: no backend of that name is installed.
        platform_core.errors.MissingExtraError: its extra (e.g. ``necrostack[redis]``) is missing.
    """
    cls = load_plugin(BACKEND_GROUP, name, setting=setting)
    backend: Backend = cls(**options)
    return backend
