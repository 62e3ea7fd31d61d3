"""The task dashboard (``/ui/`` on the Task Queue server) in real Chromium: live updates over
SSE, cancel and retry from the page, webhook redelivery, a worker's lease, what a reader key
sees, refused posts, axe-core and screenshots of every page at 1280 and 375 px, light and dark."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Served, _serve, axe_violations, chromium_path, screenshot

pytestmark = pytest.mark.timeout(240)

ADMIN_KEY = "tq_dashadmin_" + "Rt5" * 12


@dataclass
class Dashboard:
    """The server, its admin key, a reader key of the same tenant and another tenant's key."""

    served: Served
    reader_key: str
    other_key: str
    hook_hits: list[bytes]
    hook_url: str

    def api(self, key: str | None = None) -> httpx.Client:
        """An API client with ``key`` (the admin key by default)."""
        return httpx.Client(
            base_url=self.served.base_url,
            headers={"Authorization": f"Bearer {key or self.served.key}"},
            timeout=10,
        )


class _Receiver(BaseHTTPRequestHandler):
    hits: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).hits.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return


def _create_key(db: str, tenant: str, role: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "taskqueue_server",
            "create-api-key",
            "--name",
            f"{tenant} {role}",
            "--tenant",
            tenant,
            "--role",
            role,
            "--json",
        ],
        env={"TASKQUEUE_DATABASE_URL": db, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(done.stdout)["key"])


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """The Task Queue server on a free port with webhook delivery to a local receiver."""
    chromium_path()
    tmp = tmp_path_factory.mktemp("dashboard")
    db = f"sqlite:///{tmp}/tq.db"
    env = {
        "TASKQUEUE_DATABASE_URL": db,
        "TASKQUEUE_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "TASKQUEUE_WEBHOOK_ALLOW_PRIVATE": "true",
        "TASKQUEUE_DELIVERY_POLL_INTERVAL": "0.1",
        "TASKQUEUE_LOG_LEVEL": "INFO",
        "TASKQUEUE_LOG_FORMAT": "json",
    }
    served = _serve("dashboard", "taskqueue_server.app:create_server_app", ADMIN_KEY, env, tmp)
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        yield Dashboard(
            served,
            _create_key(db, "default", "reader"),
            _create_key(db, "elsewhere", "admin"),
            _Receiver.hits,
            f"http://127.0.0.1:{receiver.server_address[1]}/hook",
        )
    finally:
        receiver.shutdown()
        receiver.server_close()
        served.process.terminate()
        try:
            served.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait()


@pytest.fixture
def page(browser: Any, dashboard: Dashboard) -> Iterator[Any]:
    """A page in a fresh context, signed in with the admin key."""
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=dashboard.served.base_url
    )
    tab = ctx.new_page()
    _sign_in(tab, dashboard.served.key)
    yield tab
    ctx.close()


def _sign_in(page: Any, key: str, path: str = "/ui/") -> None:
    page.goto(path)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(path) + "$"))


def _check(page: Any, name: str) -> None:
    """axe in light and dark, screenshots at 1280 and 375 px, no sideways scroll at 375."""
    assert axe_violations(page) == [], name
    screenshot(page, f"dashboard-{name}-1280")
    page.emulate_media(color_scheme="dark")
    assert axe_violations(page) == [], f"{name} in dark mode"
    screenshot(page, f"dashboard-{name}-dark-1280")
    page.set_viewport_size({"width": 375, "height": 740})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{name} is {width}px wide at 375"
    assert axe_violations(page) == [], f"{name} at 375 px in dark mode"
    screenshot(page, f"dashboard-{name}-dark-375")
    page.emulate_media(color_scheme="light")
    assert axe_violations(page) == [], f"{name} at 375 px"
    screenshot(page, f"dashboard-{name}-375")
    page.set_viewport_size({"width": 1280, "height": 900})


def _create(dashboard: Dashboard, name: str, **extra: Any) -> dict[str, Any]:
    with dashboard.api() as api:
        answer = api.post("/api/tasks", json={"name": name, "command": f"echo {name}", **extra})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_task_created_through_the_api_appears_live(page: Any, dashboard: Dashboard) -> None:
    page.goto("/ui/tasks")
    page.wait_for_timeout(1000)  # the event stream connects
    task = _create(dashboard, "appears-live")
    row = page.locator(f"#task-{task['id']}")
    row.wait_for(timeout=10_000)
    assert "Pending" in row.inner_text()
    # Tasks created one right after another each show: a client-side throttle dropped the
    # events that came within a second of the last refresh, so the next task never appeared.
    for n in range(3):
        task = _create(dashboard, f"burst-{n}")
        page.locator(f"#task-{task['id']}").wait_for(timeout=5_000)

    page.goto("/ui/")
    page.wait_for_timeout(500)
    before = int(page.locator("#stat-depth").inner_text())
    live = _create(dashboard, "on-the-overview")
    page.locator("#activity").get_by_role("link", name="on-the-overview").wait_for(timeout=10_000)
    expect(page.locator("#stat-depth")).to_have_text(str(before + 1))
    assert live["id"] in page.locator("#activity a").first.get_attribute("href")


def test_cancel_and_retry_from_the_task_page(page: Any, dashboard: Dashboard) -> None:
    task = _create(
        dashboard,
        "to-cancel",
        environment={"MODE": "fast"},
        secret_environment={"TOKEN": "hunter2-secret"},
    )
    page.goto(f"/ui/tasks/{task['id']}")
    assert "hunter2-secret" not in page.content()
    assert page.get_by_text("[redacted]").is_visible()
    _check(page, "task")
    page.get_by_text("Cancel…").click()
    page.get_by_role("button", name="Yes, cancel task").click()
    page.wait_for_url(re.compile(r"done=cancelled"))
    assert page.locator("#task-status").inner_text() == "Cancelled"
    page.get_by_text("Retry…").click()
    page.get_by_role("button", name="Yes, retry task").click()
    page.wait_for_url(re.compile(r"done=retried"))
    assert page.locator("#task-status").inner_text() == "Pending"


def test_bulk_cancel_and_retry_from_the_list(page: Any, dashboard: Dashboard) -> None:
    first, second = _create(dashboard, "bulk-one"), _create(dashboard, "bulk-two")
    page.goto("/ui/tasks?q=bulk-")
    page.get_by_label("Select bulk-one").check()
    page.get_by_label("Select bulk-two").check()
    page.get_by_text("Bulk actions…").click()
    page.get_by_role("button", name="Cancel ticked tasks").click()
    page.wait_for_url(re.compile(r"bulk=cancel"))
    assert page.get_by_role("status").inner_text().startswith("2 task(s) cancelled")
    with dashboard.api() as api:
        for task in (first, second):
            assert api.get(f"/api/tasks/{task['id']}").json()["status"] == "Cancelled"
    page.get_by_label("Select bulk-one").check()
    page.get_by_label("Select bulk-two").check()
    page.get_by_text("Bulk actions…").click()
    page.get_by_role("button", name="Retry ticked tasks").click()
    page.wait_for_url(re.compile(r"bulk=retry"))
    assert page.get_by_role("status").inner_text().startswith("2 task(s) queued to run again")
    with dashboard.api() as api:
        for task in (first, second):
            assert api.get(f"/api/tasks/{task['id']}").json()["status"] == "Pending"


def test_a_workers_lease_shows_and_clears(page: Any, dashboard: Dashboard) -> None:
    task = _create(dashboard, "leased", priority="Critical")
    page.goto("/ui/workers")
    page.wait_for_timeout(500)
    with dashboard.api() as api:
        claimed = api.post(
            "/api/workers/claim",
            json={"worker_id": "worker-7", "max_tasks": 1, "lease_seconds": 120},
        ).json()["tasks"][0]
        assert claimed["id"] == task["id"]
        holder = page.get_by_role("heading", name="worker-7")
        holder.wait_for(timeout=10_000)
        assert page.get_by_role("link", name="leased").is_visible()
        _check(page, "workers")
        api.post(
            f"/api/tasks/{task['id']}/complete",
            json={
                "worker_id": "worker-7",
                "lease_token": claimed["lease_token"],
                "result": {"exit_code": 0, "stdout": "done\n", "duration": 1.25},
            },
        ).raise_for_status()
    holder.wait_for(state="detached", timeout=10_000)
    page.goto(f"/ui/tasks/{task['id']}")
    assert page.locator("#task-status").inner_text() == "Completed"
    assert page.get_by_text("1.2 s").is_visible()


def test_a_redelivered_webhook_shows_in_the_log(page: Any, dashboard: Dashboard) -> None:
    with dashboard.api() as api:
        hook = api.post(
            "/api/webhooks", json={"url": dashboard.hook_url, "events": ["task.created"]}
        )
        assert hook.status_code == 201, hook.text
    _create(dashboard, "hooked")
    page.goto("/ui/webhooks")
    row = page.locator("table.deliveries tbody tr").first
    for _ in range(40):
        if "succeeded" in row.inner_text():
            break
        page.wait_for_timeout(250)
        page.reload()
    assert "succeeded" in row.inner_text()
    hits = len(dashboard.hook_hits)
    _check(page, "webhooks")
    row.get_by_role("button", name=re.compile("Redeliver")).click()
    page.wait_for_url(re.compile(r"redelivered=1"))
    assert page.get_by_role("status").is_visible()
    for _ in range(40):
        if (
            len(dashboard.hook_hits) > hits
            and "2"
            in page.locator("table.deliveries tbody tr td[data-label=Attempts]").first.inner_text()
        ):
            break
        page.wait_for_timeout(250)
        page.reload()
    assert len(dashboard.hook_hits) > hits
    assert (
        page.locator("table.deliveries tbody tr td[data-label=Attempts]").first.inner_text() == "2"
    )


def test_pages_pass_axe_and_fit_a_phone(page: Any, dashboard: Dashboard) -> None:
    for i in range(3):
        _create(dashboard, f"sample-{i}", priority=["Low", "High", "Normal"][i])
    with dashboard.api() as api:  # finished tasks for the throughput chart
        for outcome in ("complete", "complete", "fail"):
            task = _create(dashboard, f"ran-{outcome}", priority="Critical", retry_attempts=0)
            claimed = api.post(
                "/api/workers/claim", json={"worker_id": "chart-worker", "lease_seconds": 60}
            ).json()["tasks"][0]
            assert claimed["id"] == task["id"]
            api.post(
                f"/api/tasks/{task['id']}/{outcome}",
                json={
                    "worker_id": "chart-worker",
                    "lease_token": claimed["lease_token"],
                    "result": {"exit_code": 0 if outcome == "complete" else 2, "duration": 0.4},
                },
            ).raise_for_status()
    page.goto("/ui/")
    _check(page, "overview")
    page.goto("/ui/tasks")
    _check(page, "tasks")


def test_a_reader_sees_no_actions_and_its_posts_are_refused(
    browser: Any, dashboard: Dashboard
) -> None:
    task = _create(dashboard, "read-only")
    ctx = browser.new_context(base_url=dashboard.served.base_url)
    page = ctx.new_page()
    _sign_in(page, dashboard.reader_key)
    page.goto("/ui/tasks")
    assert page.get_by_role("checkbox").count() == 0
    assert page.get_by_text("Bulk actions…").count() == 0
    page.goto(f"/ui/tasks/{task['id']}")
    assert page.get_by_role("button").all_inner_texts() == ["Sign out"]
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = page.request.post(f"/ui/tasks/{task['id']}/cancel", form={"csrf_token": token})
    assert answer.status == 403
    _check(page, "reader-task")
    ctx.close()
    with dashboard.api() as api:
        assert api.get(f"/api/tasks/{task['id']}").json()["status"] == "Pending"


def test_posts_without_csrf_or_for_another_tenant_are_refused(
    browser: Any, page: Any, dashboard: Dashboard
) -> None:
    task = _create(dashboard, "guarded")
    missing = page.request.post(f"/ui/tasks/{task['id']}/cancel", form={"x": "1"})
    assert missing.status == 403
    assert "CSRF" in missing.text()

    ctx = browser.new_context(base_url=dashboard.served.base_url)
    other = ctx.new_page()
    _sign_in(other, dashboard.other_key)
    token = other.locator("input[name=csrf_token]").first.get_attribute("value")
    foreign = other.request.post(f"/ui/tasks/{task['id']}/delete", form={"csrf_token": token})
    assert foreign.status == 404
    assert other.goto(f"/ui/tasks/{task['id']}").status == 404
    other.goto("/ui/tasks")
    assert other.get_by_text("guarded").count() == 0
    ctx.close()
    with dashboard.api() as api:
        assert api.get(f"/api/tasks/{task['id']}").json()["status"] == "Pending"
