"""Loading pydantic-settings classes with errors that name the environment variable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from platform_core.errors import ConfigurationError

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

__all__ = ["env_var_name", "load_settings"]

S = TypeVar("S", bound="BaseSettings")


def env_var_name(cls: type[BaseSettings], loc: tuple[int | str, ...]) -> str:
    """Return the environment variable that feeds the field at ``loc`` of ``cls``.

    Args:
        cls: The settings class.
        loc: A pydantic error location, e.g. ``("url",)`` or ``("db", "pool_size")``.
    """
    prefix = str(cls.model_config.get("env_prefix") or "")
    delimiter = str(cls.model_config.get("env_nested_delimiter") or "__")
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if not parts:
        return prefix.rstrip("_") or cls.__name__
    field = cls.model_fields.get(parts[0])
    if field is not None and isinstance(field.validation_alias, str):
        head = field.validation_alias
        return delimiter.join([head, *parts[1:]]).upper()
    return (prefix + delimiter.join(parts)).upper()


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Instantiate ``cls`` and turn validation errors into one :class:`ConfigurationError`.

    The message lists every bad variable by its environment name with what it accepts, so a
    service fails at start with something a person can act on.

    Args:
        cls: The settings class to load.
        **overrides: Values that take precedence over the environment.

    Raises:
        ConfigurationError: when any value is invalid; ``setting`` holds the first bad variable.
    """
    # pydantic is loaded by then: ``cls`` is a settings class.
    from pydantic import ValidationError

    try:
        return cls(**overrides)
    except ValidationError as exc:
        lines: list[str] = []
        first: str | None = None
        for err in exc.errors(include_url=False):
            name = env_var_name(cls, tuple(err["loc"]))
            first = first or name
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            if _looks_secret(name):
                shown = ""
            lines.append(f"{name}: {err['msg']}{shown}")
        raise ConfigurationError(
            f"invalid settings for {cls.__name__}: " + "; ".join(lines), setting=first
        ) from exc


def _looks_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("secret", "password", "token", "key"))
