"""api_core.web over ASGI: offline docs, sign-in, sessions, CSRF, cookies and redirects.
(The same flows in a real browser are in tests/browser/.)"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.responses import PlainTextResponse

from api_core import ApiSettings, create_app
from api_core.web import STATIC_DIR, SessionCodec, WebIdentity, WebSession, WebUI
from platform_core.errors import ConfigurationError

KEY = "demo-key-" + "x7" * 16
SECRET = "s" * 40
REVOKED: set[str] = set()


async def verify(_: Request, key: str) -> WebIdentity | None:
    if key != KEY:
        return None
    return WebIdentity(subject="key-1", label="ops <team>", tenant="acme", role="admin")


async def still_active(_: Request, identity: WebIdentity) -> bool:
    return identity.subject not in REVOKED


def build(**settings: object) -> tuple[FastAPI, WebUI]:
    config = ApiSettings.load(service_name="demo", session_secret=SECRET, **settings)
    app = create_app(config, instrument=False)
    web = WebUI(config, verify, app_name="Demo", revalidate=still_active)
    web.install(app)
    pages = web.page_router()

    @pages.post("/things")
    async def make_thing(request: Request) -> PlainTextResponse:
        await web.session(request)
        return PlainTextResponse("made")

    app.include_router(pages)
    return app, web


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    REVOKED.clear()
    app, _ = build()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as http:
        yield http


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str = KEY, **extra: str) -> httpx.Response:
    form = await client.get("/ui/sign-in")
    return await client.post(
        "/ui/sign-in", data={"csrf_token": _token(form.text), "api_key": key, **extra}
    )


# --- offline docs ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_pages_reference_only_files_the_app_serves(
    client: httpx.AsyncClient, path: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert "://" not in page.text, "the docs page names an outside URL"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) >= 2
    for asset in assets:
        response = await client.get(asset.replace("&amp;", "&"))
        assert response.status_code == 200, asset
    assert (await client.get("/openapi.json")).status_code == 200


async def test_docs_can_be_turned_off_and_moved() -> None:
    app = create_app(ApiSettings.load(), instrument=False, docs_url="/api-docs", redoc_url=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as http:
        assert (await http.get("/api-docs")).status_code == 200
        assert (await http.get("/docs")).status_code == 404
        assert (await http.get("/redoc")).status_code == 404


def test_vendored_assets_ship_with_licences_and_pins() -> None:
    manifest = json.loads((STATIC_DIR / "vendor" / "manifest.json").read_text())
    names = {entry["npm"]: entry for entry in manifest["packages"]}
    assert set(names) == {"htmx.org", "htmx-ext-sse", "swagger-ui-dist", "redoc"}
    for entry in names.values():
        assert re.fullmatch(r"\d+\.\d+\.\d+", entry["version"]), entry
        folder = STATIC_DIR / "vendor" / entry["dir"]
        assert (folder / "LICENSE").stat().st_size > 100
        for file, digest in entry["sha256"].items():
            content = (folder / file).read_bytes()
            assert hashlib.sha256(content).hexdigest() == digest, f"{file} differs from its pin"


# --- sign-in -----------------------------------------------------------------------------


async def test_pages_redirect_to_sign_in_and_back(client: httpx.AsyncClient) -> None:
    page = await client.get("/ui/")
    assert page.status_code == 303
    assert page.headers["location"] == "/ui/sign-in?next=/ui/"
    htmx = await client.get("/ui/", headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert htmx.headers["hx-redirect"] == "/ui/sign-in?next=/ui/"


async def test_sign_in_sets_a_signed_cookie_without_the_key(client: httpx.AsyncClient) -> None:
    response = await sign_in(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if "demo_session=" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/ui/" in cookie
    assert "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    value = cookie.split(";")[0].split("=", 1)[1]
    body = base64.urlsafe_b64decode(value.split(".")[0] + "==").decode()
    assert KEY not in value
    assert KEY not in body
    home = await client.get("/ui/")
    assert home.status_code == 200
    assert "ops &lt;team&gt;" in home.text  # escaped
    assert "acme" in home.text
    assert "admin" in home.text
    assert KEY not in home.text


async def test_wrong_key_is_refused_with_no_session(client: httpx.AsyncClient) -> None:
    response = await sign_in(client, key="not-the-key")
    assert response.status_code == 401
    assert "unknown or revoked" in response.text
    assert "not-the-key" not in response.text
    assert "demo_session" not in response.headers.get("set-cookie", "")
    assert (await client.get("/ui/")).status_code == 303


async def test_empty_and_oversized_keys_are_refused(client: httpx.AsyncClient) -> None:
    assert (await sign_in(client, key="   ")).status_code == 400
    assert (await sign_in(client, key="k" * 5000)).status_code == 401


async def test_sign_in_form_needs_its_token(client: httpx.AsyncClient) -> None:
    await client.get("/ui/sign-in")
    refused = await client.post("/ui/sign-in", data={"csrf_token": "nope", "api_key": KEY})
    assert refused.status_code == 403
    assert "did not come from this site" in refused.text
    assert "demo_session" not in refused.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("nxt", "lands"),
    [
        ("/ui/things", "/ui/things"),
        ("//evil.example/ui/", "/ui/"),
        ("https://evil.example", "/ui/"),
        ("/ui/../../x", "/ui/"),
    ],
)
async def test_next_only_goes_to_local_pages(
    client: httpx.AsyncClient, nxt: str, lands: str
) -> None:
    response = await sign_in(client, next=nxt)
    assert response.headers["location"] == lands


async def test_https_requests_get_a_secure_cookie() -> None:
    app, _ = build()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://demo") as http:
        response = await sign_in(http)
    assert "Secure" in next(
        c for c in response.headers.get_list("set-cookie") if "demo_session=" in c
    )


async def test_https_only_setting_marks_the_cookie_secure_on_http() -> None:
    app, _ = build(session_https_only=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as http:
        form = await http.get("/ui/sign-in")
        assert "Secure" in form.headers["set-cookie"]


# --- sessions and CSRF -------------------------------------------------------------------


async def test_unsafe_requests_need_the_sessions_csrf_token(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    token = _token((await client.get("/ui/")).text)
    missing = await client.post("/ui/things", data={})
    assert missing.status_code == 403
    assert "CSRF" in missing.text
    assert (await client.post("/ui/things", data={"csrf_token": "x" + token})).status_code == 403
    assert (await client.post("/ui/things", data={"csrf_token": token})).text == "made"
    assert (await client.post("/ui/things", headers={"X-CSRF-Token": token})).text == "made"


async def test_a_token_from_another_session_is_refused(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    other_app, _ = build()
    transport = httpx.ASGITransport(app=other_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as other:
        await sign_in(other)
        other_token = _token((await other.get("/ui/")).text)
    assert (await client.post("/ui/things", data={"csrf_token": other_token})).status_code == 403


async def test_sign_out_needs_csrf_then_ends_the_session(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    assert (await client.post("/ui/sign-out")).status_code == 403
    assert (await client.get("/ui/")).status_code == 200
    token = _token((await client.get("/ui/")).text)
    out = await client.post("/ui/sign-out", data={"csrf_token": token})
    assert out.status_code == 303
    assert out.headers["location"] == "/ui/sign-in?signed_out=1"
    assert "demo_session=" in out.headers["set-cookie"]
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert (await client.get("/ui/")).status_code == 303
    assert "You have signed out." in (await client.get("/ui/sign-in?signed_out=1")).text


async def test_revalidation_ends_sessions_of_revoked_keys(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    assert (await client.get("/ui/")).status_code == 200
    REVOKED.add("key-1")
    assert (await client.get("/ui/")).status_code == 303


async def test_a_forged_or_tampered_cookie_is_no_session(client: httpx.AsyncClient) -> None:
    forged = SessionCodec(b"another secret of enough length!!", 3600)
    cookie, _ = forged.issue(WebIdentity(subject="key-1", label="x"))
    client.cookies.set("demo_session", cookie, path="/ui/")
    assert (await client.get("/ui/")).status_code == 303
    real = SessionCodec(SECRET.encode(), 3600)
    cookie, _ = real.issue(WebIdentity(subject="key-1", label="x"))
    body, mac = cookie.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["rol"] = "owner"
    tampered = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    client.cookies.set("demo_session", f"{tampered}.{mac}", path="/ui/")
    assert (await client.get("/ui/")).status_code == 303
    client.cookies.set("demo_session", cookie, path="/ui/")
    assert (await client.get("/ui/")).status_code == 200


def test_sessions_expire() -> None:
    codec = SessionCodec(SECRET.encode(), max_age=-1)
    cookie, session = codec.issue(WebIdentity(subject="s", label="l"))
    assert isinstance(session, WebSession)
    assert codec.read(cookie) is None
    fresh = SessionCodec(SECRET.encode(), max_age=60)
    cookie, session = fresh.issue(WebIdentity(subject="s", label="l"))
    assert fresh.read(cookie) == session


def test_production_without_a_session_secret_fails_naming_the_variable() -> None:
    settings = ApiSettings.load(environment="production")
    with pytest.raises(ConfigurationError, match="API_SESSION_SECRET"):
        WebUI(settings, verify)


def test_a_short_session_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="SESSION_SECRET"):
        ApiSettings.load(session_secret="short")


def test_identity_fields_are_bounded() -> None:
    with pytest.raises(ValueError, match="label"):
        WebIdentity(subject="s", label="")
    with pytest.raises(ValueError, match="tenant"):
        WebIdentity(subject="s", label="l", tenant="t" * 201)


def test_templates_ship_in_the_package() -> None:
    folder = Path(STATIC_DIR).parent / "templates" / "api_core_web"
    assert {p.name for p in folder.iterdir()} >= {"base.html", "sign_in.html", "home.html"}


def test_jinja2_loads_only_when_pages_are_used() -> None:
    code = (
        "import sys\n"
        "from api_core import ApiSettings, create_app\n"
        "create_app(ApiSettings.load(), instrument=False)\n"
        "print('jinja2' in sys.modules)\n"
        "from api_core.web import WebUI\n"
        "print('jinja2' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
