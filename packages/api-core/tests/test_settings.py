"""Settings: nested env vars, fail-fast errors, secret redaction (properties 15-17)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from api_core import ApiSettings, HealthRegistry, create_app
from platform_core.errors import ConfigurationError
from platform_core.logging import build_formatter, get_logger


class ServiceSettings(ApiSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_")
    database_password: SecretStr = SecretStr("changeme")


def test_nested_env_vars_with_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_SERVICE_NAME", "orders")
    monkeypatch.setenv("ORDERS_CORS__ALLOW_ORIGINS", '["https://shop.example"]')
    monkeypatch.setenv("ORDERS_TELEMETRY__SAMPLE_RATIO", "0.25")
    settings = ServiceSettings.load()
    assert settings.service_name == "orders"
    assert settings.cors.allow_origins == ["https://shop.example"]
    assert settings.telemetry.sample_ratio == 0.25


def test_every_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_MAX_BODY_SIZE", "-1")
    monkeypatch.setenv("ORDERS_LOG_LEVEL", "LOUD")
    monkeypatch.setenv("ORDERS_HEALTH__TIMEOUT", "soon")
    with pytest.raises(ConfigurationError) as info:
        ServiceSettings.load()
    message = str(info.value)
    for name in ("ORDERS_MAX_BODY_SIZE", "ORDERS_LOG_LEVEL", "ORDERS_HEALTH__TIMEOUT"):
        assert name in message
    assert "greater than 0" in message
    assert info.value.setting is not None


# A marker prefix keeps a generated secret from matching unrelated text by accident.
secrets = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789!@%", min_size=4, max_size=30).map(
    lambda s: "zq#" + s
)


@given(secret=secrets)
def test_property_secret_redaction(secret: str) -> None:
    settings = ServiceSettings.load(database_password=secret)
    assert settings.database_password.get_secret_value() == secret
    assert secret not in repr(settings)
    assert secret not in str(settings)
    assert secret not in settings.model_dump_json()

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter("json"))
    logger = logging.getLogger("api_core.tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        get_logger("api_core.tests.redaction").info("loaded", password=settings.database_password)
    finally:
        logger.removeHandler(handler)
    assert secret not in stream.getvalue()
    assert json.loads(stream.getvalue())["password"] == "**********"


@given(secret=secrets)
def test_property_secret_not_echoed_in_errors(secret: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ServiceSettings.load(database_password=secret, max_body_size=0)
    assert secret not in str(info.value)


@given(
    outcomes=st.lists(
        st.tuples(st.sampled_from(["ok", "fail", "slow"]), st.booleans()), min_size=0, max_size=5
    )
)
async def test_property_health_status_follows_the_checks(outcomes: list[tuple[str, bool]]) -> None:
    registry = HealthRegistry(default_timeout=0.01)

    def make(kind: str):  # type: ignore[no-untyped-def]
        async def check() -> None:
            if kind == "fail":
                raise ConnectionError("down")
            if kind == "slow":
                await asyncio.sleep(1)

        return check

    for i, (kind, required) in enumerate(outcomes):
        registry.add(f"c{i}", make(kind), required=required)
    report = await registry.run()
    failing = [(kind != "ok", required) for kind, required in outcomes]
    if any(bad and required for bad, required in failing):
        assert report.status == "unhealthy"
    elif any(bad for bad, _ in failing):
        assert report.status == "degraded"
    else:
        assert report.status == "healthy"
    assert [c.healthy for c in report.checks] == [kind == "ok" for kind, _ in outcomes]


async def test_lifespan_runs_the_inner_one_and_shuts_telemetry_down() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def inner(app: FastAPI) -> AsyncIterator[None]:
        events.append("start")
        yield
        events.append("stop")

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    app = create_app(ApiSettings.load(log_format="console"), lifespan=inner, instrument=False)
    try:
        async with app.router.lifespan_context(app):
            assert events == ["start"]
            assert app.state.telemetry.enabled is False
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert events == ["start", "stop"]
