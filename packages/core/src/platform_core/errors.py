"""The error root shared by every package in the platform.

Hierarchy::

    PlatformError                      root of every error raised on purpose by platform code
    ├── ConfigurationError             a setting or a plugin choice is wrong; names the setting
    │   ├── PluginNotFoundError        no plugin of that name in the entry-point group
    │   └── MissingExtraError          the plugin exists but its optional extra is not installed
    └── DependencyUnavailableError     an outside service (Redis, PostgreSQL, ...) cannot be reached

Each package's own root subclasses :class:`PlatformError`, so ``except PlatformError`` catches
everything the platform raises deliberately while transport exceptions stay wrapped as
``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DependencyUnavailableError",
    "MissingExtraError",
    "PlatformError",
    "PluginNotFoundError",
]


class PlatformError(Exception):
    """Root of every error the platform's packages raise deliberately."""


class ConfigurationError(PlatformError):
    """A setting is missing or invalid.

    Args:
        message: What was wrong and what the setting accepts.
        setting: The environment variable or option name at fault, when there is one.
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class PluginNotFoundError(ConfigurationError):
    """The requested plugin name is not installed in its entry-point group.

    Args:
        group: The entry-point group that was searched.
        name: The plugin name that was asked for.
        available: The names that are installed in the group.
        setting: The setting that chose the name, if any.
    """

    def __init__(
        self, group: str, name: str, available: list[str], *, setting: str | None = None
    ) -> None:
        where = f" (set by {setting})" if setting else ""
        installed = ", ".join(available) if available else "none"
        super().__init__(
            f"unknown plugin {name!r} in group {group!r}{where}; installed: {installed}",
            setting=setting,
        )
        self.group = group
        self.name = name
        self.available = available


class MissingExtraError(ConfigurationError):
    """A plugin needs an optional extra that is not installed.

    Args:
        what: The plugin or feature that needs the extra.
        requirement: The pip requirement that installs it, e.g. ``necrostack[redis]``.
        missing: The module that failed to import.
    """

    def __init__(self, what: str, requirement: str, missing: str | None = None) -> None:
        because = f" (missing module {missing!r})" if missing else ""
        super().__init__(f"{what} needs an optional extra{because}: pip install '{requirement}'")
        self.requirement = requirement
        self.missing = missing


class DependencyUnavailableError(PlatformError):
    """An outside service could not be reached after the configured retries.

    Args:
        service: Which service, e.g. ``"redis"``.
        message: What failed and what to check.
    """

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service} unavailable: {message}")
        self.service = service
