"""The discovery tests below choose each path themselves, so a session run with
``PLATFORM_START_SERVICES=always`` (the bare-machine CI step) does not change what they test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _discovery_as_configured_by_each_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLATFORM_START_SERVICES", raising=False)
