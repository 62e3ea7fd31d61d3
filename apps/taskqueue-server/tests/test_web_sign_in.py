"""The Task Queue's web sign-in (api-core's WebUI checked against the server's API keys)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from taskqueue_server.app import create_server_app
from taskqueue_server.db.tenancy import Role
from taskqueue_server.settings import ServerSettings


async def _sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await client.get("/ui/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return await client.post("/ui/sign-in", data={"csrf_token": token.group(1), "api_key": key})


async def test_a_key_signs_in_and_its_revocation_ends_the_session(tmp_path: Path) -> None:
    settings = ServerSettings.load(
        database_url=f"sqlite:///{tmp_path / 'tq.db'}", session_secret="x" * 40
    )
    app = create_server_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://tq") as client,
    ):
        runtime = app.state.runtime
        created = await runtime.api_keys.create("release bot", tenant="acme", role=Role.PRODUCER)
        wrong = await _sign_in(client, created.key[:-3] + "zzz")
        assert wrong.status_code == 401
        assert (await _sign_in(client, created.key)).status_code == 303
        home = await client.get("/ui/")
        assert home.status_code == 200
        assert "release bot" in home.text
        # the key's tenant and role (the landing page is the dashboard's overview)
        assert '<span class="badge" title="Tenant">acme</span>' in home.text
        assert '<span class="badge" title="Role">producer</span>' in home.text
        assert "Tenant <strong>acme</strong>" in home.text
        assert created.key not in home.text
        await runtime.api_keys.revoke(created.id)
        assert (await client.get("/ui/")).status_code == 303
