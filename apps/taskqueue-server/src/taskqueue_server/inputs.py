"""Input that cannot poison: every value a request would write is checked before the write.

A value the database accepts but cannot hand back (a lone surrogate), one PostgreSQL refuses
(NUL), one too deeply nested to serialise again, or one over a configured size, is answered
422 naming where it is and which limit it broke, and nothing is written. The structural checks
are :func:`api_core.storable.check_storable`; the sizes come from the ``TASKQUEUE_MAX_*``
settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from api_core.storable import UnstorableValueError, check_storable
from taskqueue_server.errors import InvalidInputError
from taskqueue_server.settings import ServerSettings

__all__ = ["check_body", "clean_output"]

# Fields whose values are JSON documents of the caller's choosing: limited by size and depth.
_JSON_FIELDS = frozenset({"metadata", "result"})
_ENV_FIELDS = frozenset({"environment", "secret_environment"})
_OUTPUT_FIELDS = ("stdout", "stderr")
_UNSTORABLE_CHARS = re.compile("[\x00\ud800-\udfff]")


def _fail(exc: UnstorableValueError, setting: str | None = None) -> InvalidInputError:
    reason = exc.reason if setting is None else f"{exc.reason} ({setting})"
    return InvalidInputError(exc.path, reason)


def _check_env(path: str, env: Mapping[str, Any], settings: ServerSettings) -> None:
    for name, value in env.items():
        if len(name) > settings.max_env_key_length:
            raise InvalidInputError(
                f"{path}[{name[:40]!r}...]",
                f"name is {len(name)} characters long; the limit is "
                f"{settings.max_env_key_length} (TASKQUEUE_MAX_ENV_KEY_LENGTH)",
            )
        if isinstance(value, str) and len(value) > settings.max_env_value_length:
            raise InvalidInputError(
                f"{path}.{name}",
                f"is {len(value)} characters long; the limit is "
                f"{settings.max_env_value_length} (TASKQUEUE_MAX_ENV_VALUE_LENGTH)",
            )


def check_body(body: BaseModel | Mapping[str, Any], settings: ServerSettings) -> None:
    """Refuse a request body holding anything that cannot be stored, before anything is written.

    Checks every string and key (NUL, lone surrogates; free text over
    ``TASKQUEUE_MAX_TEXT_LENGTH``), ``metadata``/``result`` (nesting over
    ``TASKQUEUE_MAX_JSON_DEPTH``, size over ``TASKQUEUE_MAX_JSON_BYTES``) and environments
    (entries, names, value lengths). Batch bodies are checked item by item (``body.tasks[3]``).

    Args:
        body: The validated request model (or its ``model_dump()``).
        settings: The server settings with the limits.

    Raises:
        InvalidInputError: 422 naming the value's path and the limit or reason.
    """
    data = body.model_dump(mode="python") if isinstance(body, BaseModel) else dict(body)
    _check_mapping("body", data, settings)


def _check_mapping(where: str, data: Mapping[str, Any], settings: ServerSettings) -> None:
    items = data.get("tasks")
    if where == "body" and isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, Mapping):
                _check_mapping(f"body.tasks[{index}]", item, settings)
        return
    env_total = 0
    for name, value in data.items():
        path = f"{where}.{name}"
        try:
            if name in _JSON_FIELDS and value is not None:
                check_storable(
                    value,
                    max_depth=settings.max_json_depth,
                    where=path,
                    max_length=settings.max_text_length,
                    max_bytes=settings.max_json_bytes,
                )
            elif name in _ENV_FIELDS and isinstance(value, Mapping):
                check_storable(value, max_depth=1, where=path)
                _check_env(path, value, settings)
                env_total += len(value)
            else:
                check_storable(value, max_depth=4, where=path, max_length=settings.max_text_length)
        except UnstorableValueError as exc:
            setting = None
            if "characters long" in exc.reason:
                setting = "TASKQUEUE_MAX_TEXT_LENGTH"
            elif "bytes as JSON" in exc.reason:
                setting = "TASKQUEUE_MAX_JSON_BYTES"
            elif "nested deeper" in exc.reason:
                setting = "TASKQUEUE_MAX_JSON_DEPTH"
            raise _fail(exc, setting) from None
    if env_total > settings.max_env_vars:
        raise InvalidInputError(
            f"{where}.environment",
            f"has {env_total} entries with secret_environment; the limit is "
            f"{settings.max_env_vars} (TASKQUEUE_MAX_ENV_VARS)",
        )


def clean_output(result: dict[str, Any]) -> dict[str, Any]:
    """Make a run's captured output storable: NUL characters and lone surrogates in
    ``stdout``/``stderr`` become U+FFFD (a program may print anything; its output is kept as
    text, not refused)."""
    cleaned = dict(result)
    for name in _OUTPUT_FIELDS:
        text = cleaned.get(name)
        if isinstance(text, str):
            cleaned[name] = _UNSTORABLE_CHARS.sub("\ufffd", text)
    return cleaned
