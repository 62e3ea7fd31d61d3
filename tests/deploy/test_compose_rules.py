"""``make deploy-check``'s compose rules: the real file keeps them, and each one catches the
regression it is there for."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import compose_rules
import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PREFLIGHT = ROOT / "deploy" / "compose" / "preflight.py"
ENV_EXAMPLE = ROOT / ".env.example"


@pytest.fixture
def compose() -> dict[str, Any]:
    return compose_rules.load(COMPOSE)


def test_the_compose_file_keeps_every_rule(compose: dict[str, Any]) -> None:
    assert compose_rules.check_all(compose, COMPOSE.read_text()) == []


def test_the_dockerfiles_pin_their_base_images() -> None:
    dockerfiles = [*ROOT.glob("apps/*/Dockerfile"), ROOT / "deploy" / "otel" / "Dockerfile"]
    assert len(dockerfiles) == 3
    assert compose_rules.check_dockerfiles(dockerfiles) == []


def test_a_floating_dockerfile_base_is_refused(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.12-slim AS build\nFROM build\nFROM redis:7.4.1-alpine\n")
    assert compose_rules.check_dockerfiles([dockerfile]) == [
        "Dockerfile: FROM python:3.12-slim is not pinned to an exact version"
    ]


@pytest.mark.parametrize("image", ["redis:7.4-alpine", "redis:latest", "redis", "postgres:16"])
def test_a_floating_image_tag_is_refused(compose: dict[str, Any], image: str) -> None:
    compose["services"]["redis"]["image"] = image
    assert compose_rules.check_images(compose) == [
        f"redis: image {image!r} is not pinned to an exact version"
    ]


def test_a_digest_or_an_exact_version_is_accepted(compose: dict[str, Any]) -> None:
    compose["services"]["redis"]["image"] = "redis@sha256:" + "a" * 64
    compose["services"]["jaeger"]["image"] = "jaegertracing/all-in-one:1.62.0"
    assert compose_rules.check_images(compose) == []


def test_a_long_running_service_must_restart(compose: dict[str, Any]) -> None:
    del compose["services"]["taskqueue-api"]["restart"]
    assert compose_rules.check_health_and_restart(compose) == [
        "taskqueue-api: long-running service without restart: unless-stopped"
    ]


@pytest.mark.parametrize("test", [["CMD", "true"], ["NONE"], ["CMD-SHELL", "exit 0"]])
def test_a_health_check_that_checks_nothing_is_refused(
    compose: dict[str, Any], test: list[str]
) -> None:
    compose["services"]["draft-worker"]["healthcheck"]["test"] = test
    assert compose_rules.check_health_and_restart(compose) == [
        f"draft-worker: health check {test!r} checks nothing"
    ]


def test_a_one_shot_service_is_awaited_by_completion_not_a_fake_health_check(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    services["taskqueue-migrate"]["healthcheck"] = {"test": ["CMD", "true"]}
    services["taskqueue-api"]["depends_on"]["taskqueue-migrate"] = {"condition": "service_healthy"}
    assert compose_rules.check_health_and_restart(compose) == [
        "taskqueue-migrate: a one-shot service needs no health check; depend on it with "
        "service_completed_successfully",
        "taskqueue-api waits for one-shot taskqueue-migrate with 'service_healthy', not "
        "service_completed_successfully",
    ]


def test_every_service_needs_cpu_and_memory_limits(compose: dict[str, Any]) -> None:
    del compose["services"]["postgres"]["deploy"]["resources"]["limits"]["memory"]
    del compose["services"]["draft-api"]["deploy"]
    assert compose_rules.check_resources(compose) == [
        "postgres: no memory limit",
        "draft-api: no cpus limit",
        "draft-api: no memory limit",
    ]


def test_nothing_starts_before_preflight(compose: dict[str, Any]) -> None:
    del compose["services"]["jaeger"]["depends_on"]
    problems = compose_rules.check_preflight(compose, COMPOSE.read_text())
    # otel-collector waits for jaeger, so it no longer waits for preflight either.
    assert problems == [
        "jaeger starts without waiting for preflight",
        "otel-collector starts without waiting for preflight",
    ]


def test_preflight_is_given_every_required_secret(compose: dict[str, Any]) -> None:
    del compose["services"]["preflight"]["environment"]["DRAFTS_ES_PASSWORD"]
    assert compose_rules.check_preflight(compose, COMPOSE.read_text()) == [
        "preflight is not given the required secret DRAFTS_ES_PASSWORD"
    ]


def test_without_preflight_the_rule_fails(compose: dict[str, Any]) -> None:
    del compose["services"]["preflight"]
    assert compose_rules.check_preflight(compose, "") == [
        "no `preflight` service refuses placeholder secrets"
    ]


@pytest.mark.parametrize(
    ("var", "url", "user"),
    [
        ("DRAFTS_DATABASE_URL", "postgresql://postgres:${PW}@postgres:5432/drafts", "postgres"),
        ("ES_URL", "http://elastic:${ELASTIC_PASSWORD}@elasticsearch:9200", "elastic"),
    ],
)
def test_an_app_connecting_as_a_superuser_is_refused(
    compose: dict[str, Any], var: str, url: str, user: str
) -> None:
    compose["services"]["draft-worker"]["environment"] = copy.deepcopy(
        compose["services"]["draft-worker"]["environment"]
    )
    compose["services"]["draft-worker"]["environment"][var] = url
    assert compose_rules.check_least_privilege(compose) == [
        f"draft-worker: {var} connects as the superuser {user!r}"
    ]


def test_a_grace_period_shorter_than_the_drain_is_refused(compose: dict[str, Any]) -> None:
    compose["services"]["draft-worker"]["stop_grace_period"] = "1m"
    compose["services"]["taskqueue-worker"]["command"] = [
        "taskqueue", "worker", "--grace-period", "120",
    ]  # fmt: skip
    problems = compose_rules.check_grace_periods(compose)
    assert len(problems) == 2
    assert problems[0].startswith("taskqueue-worker: stop_grace_period 60s < 135s")
    assert problems[1].startswith("draft-worker: stop_grace_period 60s < 125s")


def _preflight(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PREFLIGHT), str(ENV_EXAMPLE)],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _example() -> dict[str, str]:
    spec = compose_rules.load(COMPOSE)["services"]["preflight"]["environment"]
    values = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    return {name: values[name] for name in spec}


def test_preflight_refuses_the_example_secrets_naming_each() -> None:
    example = _example()
    done = _preflight(example)
    assert done.returncode == 1
    for name, value in example.items():
        assert f"{name} still has the placeholder from .env.example" in done.stderr
        assert value not in done.stderr  # names the variable, never prints the secret


def test_preflight_passes_real_secrets() -> None:
    strong = {name: f"s3cret-{name.lower()}-0123456789" for name in _example()}
    done = _preflight(strong)
    assert done.returncode == 0, done.stderr
    assert "every secret is set" in done.stdout


def test_preflight_names_a_missing_short_or_url_unsafe_secret() -> None:
    env = {name: f"s3cret-{name.lower()}-0123456789" for name in _example()}
    del env["DRAFTS_API_KEY"]
    env["POSTGRES_PASSWORD"] = "short"
    env["ELASTIC_PASSWORD"] = "has@an/at-sign-and-slash-0123456789"
    done = _preflight(env)
    assert done.returncode == 1
    assert done.stderr.splitlines()[:3] == [
        "preflight: DRAFTS_API_KEY is not set; set it in .env",
        "preflight: ELASTIC_PASSWORD may only contain letters, digits and . _ ~ - "
        "(it goes into URLs)",
        "preflight: POSTGRES_PASSWORD is shorter than 16 characters",
    ]


def test_the_dev_cluster_creates_the_same_database_roles_as_compose() -> None:
    original = ROOT / "deploy" / "postgres" / "10-roles.sh"
    copy_ = ROOT / "deploy" / "k8s" / "overlays" / "dev" / "postgres" / "10-roles.sh"
    assert original.read_bytes() == copy_.read_bytes()
    assert "CREATE DATABASE taskqueue OWNER taskqueue;" in original.read_text()
