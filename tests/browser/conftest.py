"""Fixtures of the browser tests: real Chromium (Debian's ``chromium``) driven by Playwright,
and the two apps served by uvicorn on free ports.

Without Chromium or Playwright the tests skip with the command that installs them; in CI
(``PLATFORM_REQUIRE_SERVICES=1``) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from platform_core.testing.services import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "ui"
AXE = ROOT / "packages/api-core/tests/browser/assets/axe-core/axe.min.js"
INSTALL = "apt-get update && apt-get install -y chromium  (and `make install` for playwright)"
# Variables of the developer's shell that would change what the apps do.
_ISOLATE_PREFIXES = ("TASKQUEUE_", "DRAFTS_", "DRAFT_API_", "API_", "OTEL_", "OPENROUTER_")

TQ_KEY = "tq_browsertest_" + "Kx9" * 12
DRAFTS_KEY = "drafts-browser-test-key-" + "Qz7" * 10
DEMO_KEY = "demo-browser-test-key-" + "Wp4" * 10


def _missing(what: str) -> None:
    message = f"{what} is not installed; install it with: {INSTALL}"
    if os.environ.get("PLATFORM_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def chromium_path() -> str:
    """The system Chromium, or skip/fail naming the install command."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    _missing("chromium")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium shared by a module's tests.

    Module scope, not session: Playwright's sync API keeps an event loop marked as running in
    this thread until it stops, and under pytest-xdist the same worker goes on to run other
    modules' asyncio tests, which refuse to start inside a running loop.
    """
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (Python)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Served:
    """An app served by uvicorn in a child process."""

    name: str
    base_url: str
    key: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        """Everything the server wrote so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")


def _serve(
    name: str, factory: str, key: str, env: dict[str, str], tmp: Path, *extra: str
) -> Served:
    port = free_port()
    log = tmp / f"{name}.log"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(_ISOLATE_PREFIXES)}
    base_env.update(env)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                factory,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "debug",
                *extra,
            ],
            env=base_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    served = Served(name, f"http://127.0.0.1:{port}", key, log, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited at start:\n{served.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{served.base_url}/health/live", timeout=1):
                return served
        except OSError:
            time.sleep(0.2)
    process.terminate()
    pytest.fail(f"{name} did not answer /health/live in 60 s:\n{served.log_text()[-3000:]}")


@pytest.fixture(scope="session", params=["taskqueue", "drafts", "demo"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The Task Queue API, the draft API and a bare api-core app whose key has a tenant and
    a role, each on a free port, with a known key."""
    chromium_path()  # skip before starting servers when there is no browser
    tmp = tmp_path_factory.mktemp(request.param)
    common = {"LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json"}
    if request.param == "taskqueue":
        env = {f"TASKQUEUE_{k}": v for k, v in common.items()}
        env.update(
            TASKQUEUE_DATABASE_URL=f"sqlite:///{tmp}/tq.db",
            TASKQUEUE_BOOTSTRAP_API_KEY=TQ_KEY,
        )
        app = _serve("taskqueue", "taskqueue_server.app:create_server_app", TQ_KEY, env, tmp)
    elif request.param == "demo":
        env = {f"API_{k}": v for k, v in common.items()}
        env.update(DEMO_KEY=DEMO_KEY)
        app = _serve(
            "demo", "demo_app:create", DEMO_KEY, env, tmp, "--app-dir", str(Path(__file__).parent)
        )
    else:
        env = {f"DRAFTS_{k}": v for k, v in common.items()}
        env.update(
            DRAFTS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/drafts.db",
            DRAFTS_API_KEY=DRAFTS_KEY,
        )
        app = _serve("drafts", "draft_api.main:create_app", DRAFTS_KEY, env, tmp)
    yield app
    app.process.terminate()
    try:
        app.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait()


@pytest.fixture
def context(browser: Any, served: Served) -> Iterator[Any]:
    """A fresh browser context (own cookies) at desktop width; requests to any host but
    the loopback are aborted and recorded in ``context.outside``."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=served.base_url)
    ctx.outside = []

    def guard(route: Any) -> None:
        host = route.request.url.split("/")[2].split(":")[0] if "//" in route.request.url else ""
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            ctx.outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", guard)
    yield ctx
    ctx.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    # Evaluated through the DevTools protocol: the pages' CSP (rightly) refuses injected tags.
    page.evaluate(AXE.read_text() + "\n;true")
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )
    return found


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under ``.artifacts/ui/``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
