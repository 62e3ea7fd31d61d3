"""platform-core: the shared foundation of the platform's packages.

Modules: :mod:`~platform_core.errors`, :mod:`~platform_core.logging`,
:mod:`~platform_core.settings`, :mod:`~platform_core.plugins`, :mod:`~platform_core.redis`
(extra ``platform-core[redis]``) and :mod:`~platform_core.testing` (extra
``platform-core[testing]``).

Names are imported on first use (PEP 562), so ``import platform_core`` (which every sibling
package pays) loads neither pydantic, structlog, orjson nor ``importlib.metadata``.
"""

import sys

# Neither ``typing.TYPE_CHECKING`` nor ``from __future__ import annotations``: importing typing
# or __future__ would be most of this module's cost, and type checkers treat any constant of
# this name as typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from platform_core.errors import (
        ConfigurationError,
        DependencyUnavailableError,
        MissingExtraError,
        PlatformError,
        PluginNotFoundError,
    )
    from platform_core.logging import configure_logging, get_logger
    from platform_core.plugins import available_plugins, load_plugin
    from platform_core.settings import load_settings

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "DependencyUnavailableError",
    "MissingExtraError",
    "PlatformError",
    "PluginNotFoundError",
    "__version__",
    "available_plugins",
    "configure_logging",
    "get_logger",
    "load_plugin",
    "load_settings",
]

_EXPORTS = {
    "ConfigurationError": "platform_core.errors",
    "DependencyUnavailableError": "platform_core.errors",
    "MissingExtraError": "platform_core.errors",
    "PlatformError": "platform_core.errors",
    "PluginNotFoundError": "platform_core.errors",
    "available_plugins": "platform_core.plugins",
    "configure_logging": "platform_core.logging",
    "get_logger": "platform_core.logging",
    "load_plugin": "platform_core.plugins",
    "load_settings": "platform_core.settings",
}


def __getattr__(name: str) -> "Any":
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'platform_core' has no attribute {name!r}")
    __import__(module)  # not importlib.import_module: the importlib package is not loaded yet
    value = getattr(sys.modules[module], name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
