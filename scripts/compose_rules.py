"""Rules ``docker-compose.yml`` must keep to be deployable, checked by ``make deploy-check``.

Each check takes the parsed compose file (PyYAML resolves its ``<<`` merge keys) and returns
the problems found as sentences naming the service; an empty list means the rule holds.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

import yaml
from drain import MARGIN_SECONDS, drain_seconds

__all__ = [
    "SUPERUSERS",
    "check_all",
    "check_dockerfiles",
    "check_grace_periods",
    "check_health_and_restart",
    "check_images",
    "check_least_privilege",
    "check_preflight",
    "check_resources",
    "load",
]

Compose = dict[str, Any]
SUPERUSERS = {"postgres", "elastic", "root", "admin"}
"""Users no app may connect as: PostgreSQL's and Elasticsearch's built-in superusers."""
_EXACT_TAG = re.compile(r":v?\d+\.\d+\.\d+[^/:]*$")
# Images whose releases are numbered MAJOR.MINOR (PostgreSQL 16.4 is one exact release).
_TWO_PART = re.compile(r"^(library/)?postgres:\d+\.\d+[^/:.]*$")
_TRIVIAL_TESTS = (["CMD", "true"], ["CMD-SHELL", "true"], ["CMD-SHELL", "exit 0"], ["NONE"])
_REQUIRED_VAR = re.compile(r"\$\{([A-Z0-9_]+):\?")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")


def load(path: Path) -> Compose:
    """The compose file as a mapping, anchors and merge keys resolved."""
    data: Compose = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _one_shot(service: dict[str, Any]) -> bool:
    """Declared one-shot with ``restart: "no"`` (an unquoted ``no`` is YAML's false)."""
    return service.get("restart", "unset") in ("no", False)


def _built_images(services: dict[str, Any]) -> set[str]:
    return {s["image"] for s in services.values() if "build" in s and "image" in s}


def check_images(compose: Compose) -> list[str]:
    """Every image is pinned to an exact version (X.Y.Z) or a digest, or built here."""
    services = compose["services"]
    built = _built_images(services)
    problems = []
    for name, service in services.items():
        image = service.get("image", "")
        if "build" in service or image in built or "@sha256:" in image:
            continue
        if not _EXACT_TAG.search(image) and not _TWO_PART.match(image):
            problems.append(f"{name}: image {image!r} is not pinned to an exact version")
    return problems


def check_dockerfiles(paths: list[Path]) -> list[str]:
    """Every FROM of the Dockerfiles names an exact version (or digest, or an earlier stage)."""
    problems = []
    for path in paths:
        stages: set[str] = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            found = re.match(r"\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
            if not found:
                continue
            image, stage = found.group(1), found.group(2)
            pinned = "@sha256:" in image or _EXACT_TAG.search(image) or _TWO_PART.match(image)
            if image not in stages and not pinned:
                problems.append(f"{path.name}: FROM {image} is not pinned to an exact version")
            if stage:
                stages.add(stage)
    return problems


def check_health_and_restart(compose: Compose) -> list[str]:
    """Long-running services restart and have a real health check; one-shot services have none
    and are waited for with ``service_completed_successfully``."""
    services = compose["services"]
    problems = []
    for name, service in services.items():
        check = service.get("healthcheck")
        if _one_shot(service):
            if check and not check.get("disable", False):
                problems.append(
                    f"{name}: a one-shot service needs no health check; depend on it with "
                    "service_completed_successfully"
                )
            for other, spec in services.items():
                condition = (spec.get("depends_on") or {}).get(name, {})
                if condition and condition.get("condition") != "service_completed_successfully":
                    problems.append(
                        f"{other} waits for one-shot {name} with {condition.get('condition')!r}, "
                        "not service_completed_successfully"
                    )
            continue
        if service.get("restart") not in ("unless-stopped", "always"):
            problems.append(f"{name}: long-running service without restart: unless-stopped")
        if not check or check.get("disable", False) or not check.get("test"):
            problems.append(f"{name}: long-running service without a health check")
        elif check["test"] in _TRIVIAL_TESTS or check["test"] == "NONE":
            problems.append(f"{name}: health check {check['test']!r} checks nothing")
    return problems


def check_resources(compose: Compose) -> list[str]:
    """Every service has CPU and memory limits."""
    problems = []
    for name, service in compose["services"].items():
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        missing = [what for what in ("cpus", "memory") if what not in limits]
        problems += [f"{name}: no {what} limit" for what in missing]
    return problems


def _depends_on(services: dict[str, Any], name: str) -> set[str]:
    """Every service ``name`` waits for, directly or through others."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        for dep in services[todo.pop()].get("depends_on") or {}:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def check_preflight(compose: Compose, source: str) -> list[str]:
    """A one-shot ``preflight`` is given every required secret and everything waits for it."""
    services = compose["services"]
    if "preflight" not in services:
        return ["no `preflight` service refuses placeholder secrets"]
    problems = []
    given = set(services["preflight"].get("environment") or {})
    for var in sorted(set(_REQUIRED_VAR.findall(source))):
        if re.search(r"_(PASSWORD|KEY)$", var) and var not in given:
            problems.append(f"preflight is not given the required secret {var}")
    for name in services:
        if name != "preflight" and "preflight" not in _depends_on(services, name):
            problems.append(f"{name} starts without waiting for preflight")
    return problems


def check_least_privilege(compose: Compose) -> list[str]:
    """No app's connection URL logs in as a superuser."""
    problems = []
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.partition("=")[::2] for item in env)
        for var, value in env.items():
            if not isinstance(value, str) or "://" not in value:
                continue
            user = urllib.parse.urlsplit(value.replace("${", "").replace("}", "")).username
            if user in SUPERUSERS:
                problems.append(f"{name}: {var} connects as the superuser {user!r}")
    return problems


def _seconds(duration: str) -> float:
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * scale[unit] for n, unit in _DURATION.findall(duration))


def check_grace_periods(compose: Compose) -> list[str]:
    """Every app process gets its drain time (and a margin) between SIGTERM and SIGKILL."""
    problems = []
    services = compose["services"]
    # The apps' images: built from apps/*/Dockerfile (datastores keep their own shutdown).
    apps = {
        s["image"]
        for s in services.values()
        if str(s.get("build", {}).get("dockerfile", "")).startswith("apps/")
    }
    for name, service in services.items():
        command = service.get("command")
        if _one_shot(service) or service.get("image") not in apps:
            continue
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        drain = drain_seconds(command or [], env)
        if drain is None:
            problems.append(f"{name}: no drain time is known for {command!r} (scripts/drain.py)")
            continue
        seconds, why = drain
        grace = _seconds(str(service.get("stop_grace_period", "10s")))
        if grace < seconds + MARGIN_SECONDS:
            problems.append(
                f"{name}: stop_grace_period {grace:g}s < {seconds + MARGIN_SECONDS:g}s "
                f"({why} + {MARGIN_SECONDS:g} s)"
            )
    return problems


def check_all(compose: Compose, source: str) -> list[str]:
    """Every rule above (not the Dockerfiles')."""
    return [
        *check_images(compose),
        *check_health_and_restart(compose),
        *check_resources(compose),
        *check_preflight(compose, source),
        *check_least_privilege(compose),
        *check_grace_periods(compose),
    ]
