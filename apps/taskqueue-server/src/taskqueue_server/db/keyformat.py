"""The shape of an API key, ``tq_<prefix>_<secret>``, shared by the key store and the settings."""

from __future__ import annotations

import re

__all__ = ["KEY_PREFIX", "MIN_SECRET_CHARS", "is_well_formed_key", "key_prefix"]

KEY_PREFIX = "tq_"
"""What every key starts with."""
MIN_SECRET_CHARS = 24
"""Shortest secret part accepted for a key given in the settings (generated ones have 43)."""

_SHAPE = re.compile(r"^tq_([A-Za-z0-9]{1,32})_([A-Za-z0-9_\-]+)$")


def is_well_formed_key(key: str) -> bool:
    """Whether ``key`` is ``tq_<1-32 letters or digits>_<at least MIN_SECRET_CHARS chars>``."""
    found = _SHAPE.match(key)
    return found is not None and len(found.group(2)) >= MIN_SECRET_CHARS


def key_prefix(key: str) -> str | None:
    """The prefix part that finds a key's row, or None when ``key`` is not shaped like one."""
    if not key.startswith(KEY_PREFIX) or key.count("_") < 2:
        return None
    return key[len(KEY_PREFIX) :].split("_", 1)[0]
