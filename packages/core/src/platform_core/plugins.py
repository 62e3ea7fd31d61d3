"""Plugin lookup: the one place in the platform that reads entry points.

Each pluggable slot is an entry-point group; a setting picks the plugin by name. An entry point
may declare the extra it needs (``redis = "pkg.mod:Cls [redis]"``), so a missing optional
dependency is reported as the exact ``pip install`` line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platform_core.errors import MissingExtraError, PluginNotFoundError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["available_plugins", "load_plugin"]


def _group(group: str) -> dict[str, EntryPoint]:
    # importlib.metadata costs tens of milliseconds to import; only a lookup needs it.
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        found.setdefault(ep.name, ep)
    return found


def available_plugins(group: str) -> list[str]:
    """Return the sorted names installed in the entry-point ``group``."""
    return sorted(_group(group))


def load_plugin(group: str, name: str, *, setting: str | None = None) -> Any:
    """Load the object registered as ``name`` in ``group``.

    Args:
        group: The entry-point group, e.g. ``"necrostack.backends"``.
        name: The plugin name, usually taken from a setting.
        setting: The setting that chose ``name``, mentioned in errors.

    Raises:
        PluginNotFoundError: ``name`` is not installed; the message lists what is.
        MissingExtraError: the plugin's optional dependency is missing; the message gives the
            ``pip install`` line.
    """
    plugins = _group(group)
    key = name.strip().lower()
    ep = plugins.get(key) or plugins.get(name)
    if ep is None:
        raise PluginNotFoundError(group, name, sorted(plugins), setting=setting)
    try:
        return ep.load()
    except ModuleNotFoundError as exc:
        dist = ep.dist.name if ep.dist is not None else ep.module.split(".")[0]
        extras = ",".join(ep.extras) if ep.extras else None
        requirement = f"{dist}[{extras}]" if extras else dist
        raise MissingExtraError(
            f"plugin {name!r} of group {group!r}", requirement, exc.name
        ) from exc
