"""Fixtures: the fault-injecting fake Task Queue server, shared by the session."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tq_fake_server import FakeServer


@pytest.fixture(scope="session")
def _fake_server() -> Iterator[FakeServer]:
    server = FakeServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(_fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    """The fake server, emptied for this test; TASKQUEUE_BASE_URL points at it."""
    _fake_server.reset()
    monkeypatch.setenv("TASKQUEUE_BASE_URL", _fake_server.url)
    monkeypatch.delenv("TASKQUEUE_API_KEY", raising=False)
    return _fake_server


TRANSPORTS = ["httpx", "aiohttp"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every async test that uses ``transport`` once per transport."""
    if "transport" in metafunc.fixturenames and inspect.iscoroutinefunction(metafunc.function):
        metafunc.parametrize("transport", TRANSPORTS, indirect=True)


@pytest.fixture
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The async client's transport for this test (``TASKQUEUE_TRANSPORT``); sync tests get
    httpx, the only sync transport."""
    name: str = getattr(request, "param", "httpx")
    monkeypatch.setenv("TASKQUEUE_TRANSPORT", name)
    return name
