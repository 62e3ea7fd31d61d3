"""Markdown (or JSON) documentation of a settings class: every variable, type and default."""

from __future__ import annotations

import importlib
import json
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

__all__ = ["SettingDoc", "describe_settings", "import_settings_class", "render_markdown"]


@dataclass(frozen=True, slots=True)
class SettingDoc:
    """One documented setting."""

    name: str
    env: str
    type: str
    default: str
    description: str
    required: bool


def import_settings_class(path: str) -> type[BaseSettings]:
    """Import ``package.module:ClassName`` (or ``package.module.ClassName``).

    Raises:
        ValueError: the path does not name a pydantic-settings class.
    """
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"{path!r} is not 'package.module:ClassName'")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import {path!r}: {exc}") from exc
    if not (isinstance(obj, type) and issubclass(obj, BaseSettings)):
        raise ValueError(f"{path!r} is not a pydantic-settings BaseSettings class")
    return obj


def _type_name(annotation: Any) -> str:
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    if origin is None:
        return getattr(annotation, "__name__", str(annotation))
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " | ".join(_type_name(a) for a in args)
    return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"


def _default(value: Any) -> str:
    if value is PydanticUndefined:
        return ""
    if isinstance(value, SecretStr | SecretBytes):
        return "`**********`"
    if isinstance(value, BaseModel):
        return ""
    return f"`{json.dumps(value, default=str)}`"


def _walk(model: type[BaseModel], prefix: str, dotted: str, delimiter: str) -> list[SettingDoc]:
    docs: list[SettingDoc] = []
    for name, info in model.model_fields.items():
        env = (prefix + name).upper()
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            docs.extend(_walk(annotation, env + delimiter, f"{dotted}{name}.", delimiter))
            continue
        default = info.get_default(call_default_factory=True)
        docs.append(
            SettingDoc(
                name=f"{dotted}{name}",
                env=env,
                type=_type_name(annotation),
                default=_default(default),
                description=info.description or "",
                required=info.is_required(),
            )
        )
    return docs


def describe_settings(cls: type[BaseSettings]) -> list[SettingDoc]:
    """Every leaf setting of ``cls`` with its environment variable (nested with ``__``)."""
    prefix = str(cls.model_config.get("env_prefix") or "")
    delimiter = str(cls.model_config.get("env_nested_delimiter") or "__")
    return _walk(cls, prefix, "", delimiter)


def render_markdown(cls: type[BaseSettings]) -> str:
    """A Markdown table documenting every setting of ``cls``."""
    lines = [
        f"### `{cls.__name__}`",
        "",
        "| Setting | Environment variable | Type | Default | Description |",
        "|---|---|---|---|---|",
    ]
    for doc in describe_settings(cls):
        default = "*required*" if doc.required else doc.default
        cells = [f"`{doc.name}`", f"`{doc.env}`", f"`{doc.type}`", default, doc.description]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
