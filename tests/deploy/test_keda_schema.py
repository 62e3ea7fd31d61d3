"""The KEDA schema ``make deploy-check`` validates ScaledObjects against accepts the repository's
and refuses what KEDA's CRDs would refuse."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import k8s_rules
import pytest

SCHEMA = json.loads((k8s_rules.K8S / "schemas" / "keda-v1alpha1.json").read_text())


def _errors(doc: dict[str, Any]) -> list[str]:
    schema = {"$ref": f"#/$defs/{doc['kind']}", "$defs": SCHEMA["$defs"]}
    validator = jsonschema.Draft202012Validator(schema)
    return sorted(e.message for e in validator.iter_errors(doc))


@pytest.fixture(scope="module")
def keda_docs() -> list[dict[str, Any]]:
    docs = [d for d in k8s_rules.render("overlays/prod") if d["apiVersion"].startswith("keda.sh/")]
    assert {d["kind"] for d in docs} == {"ScaledObject", "TriggerAuthentication"}
    return docs


def test_the_rendered_keda_objects_validate(keda_docs: list[dict[str, Any]]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert [(d["metadata"]["name"], _errors(d)) for d in keda_docs if _errors(d)] == []


def test_a_number_where_keda_wants_a_string_is_refused(keda_docs: list[dict[str, Any]]) -> None:
    doc = copy.deepcopy(next(d for d in keda_docs if d["metadata"]["name"] == "draft-worker"))
    doc["spec"]["triggers"][0]["metadata"]["lagCount"] = 8
    assert "8 is not of type 'string'" in _errors(doc)


def test_an_unknown_field_or_a_trigger_without_its_stream_is_refused(
    keda_docs: list[dict[str, Any]],
) -> None:
    doc = copy.deepcopy(next(d for d in keda_docs if d["metadata"]["name"] == "draft-worker"))
    doc["spec"]["minReplicas"] = 0  # KEDA's field is minReplicaCount
    del doc["spec"]["triggers"][1]["metadata"]["stream"]
    errors = _errors(doc)
    assert "Additional properties are not allowed ('minReplicas' was unexpected)" in errors
    assert "'stream' is a required property" in errors


def test_a_metrics_api_trigger_needs_its_url_and_value(keda_docs: list[dict[str, Any]]) -> None:
    doc = copy.deepcopy(next(d for d in keda_docs if d["metadata"]["name"] == "taskqueue-worker"))
    del doc["spec"]["triggers"][0]["metadata"]["valueLocation"]
    assert _errors(doc) == ["'valueLocation' is a required property"]
