"""platform_core.lazy: names load on first use, stay loaded, and unknown ones are named."""

from __future__ import annotations

import pytest

from platform_core.lazy import lazy_exports


def test_a_name_loads_once_and_an_unknown_one_is_an_attribute_error() -> None:
    namespace: dict[str, object] = {"kept": 1}
    get, names = lazy_exports("pkg", namespace, {"PlatformError": "platform_core.errors"})
    from platform_core.errors import PlatformError

    assert get("PlatformError") is PlatformError
    assert namespace["PlatformError"] is PlatformError  # later lookups skip get()
    assert names() == ["PlatformError", "kept"]
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        get("nope")
