"""platform-core: the shared foundation of the platform's packages.

Modules: :mod:`~platform_core.errors`, :mod:`~platform_core.logging`,
:mod:`~platform_core.settings`, :mod:`~platform_core.plugins`, :mod:`~platform_core.redis`
(extra ``platform-core[redis]``) and :mod:`~platform_core.testing` (extra
``platform-core[testing]``).
"""

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
