"""The models' JSON schema says exactly what their validation accepts (schemathesis and every
other schema consumer generate requests from it), and the delivery history is typed."""

from __future__ import annotations

import re
import sys
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from taskqueue.models import (
    ProjectUpdateRequest,
    TaskCreateRequest,
    TaskUpdateRequest,
    WebhookCreateRequest,
    WebhookDeliveryAttempt,
    WebhookDeliveryList,
)
from taskqueue.models.base import NOT_BLANK_PATTERN, UpdateModel

NOT_BLANK = re.compile(NOT_BLANK_PATTERN)


def test_not_blank_pattern_and_validator_agree_on_every_character() -> None:
    disagree = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if bool(NOT_BLANK.search(chr(code))) != bool(chr(code).strip())
    ]
    assert disagree == []


@given(name=st.text(min_size=1, max_size=255))
def test_a_name_is_valid_exactly_when_the_schema_pattern_matches(name: str) -> None:
    try:
        TaskCreateRequest(name=name, command="true")
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted == bool(NOT_BLANK.search(name))


@pytest.mark.parametrize("model", [TaskUpdateRequest, ProjectUpdateRequest])
def test_update_schemas_allow_null_exactly_where_validation_does(
    model: type[UpdateModel],
) -> None:
    properties = model.model_json_schema()["properties"]
    assert set(properties) == set(model.model_fields)
    for name, schema in properties.items():
        allows_null = {"type": "null"} in schema.get("anyOf", [])
        assert allows_null == (name in model.nullable), name
        if allows_null:
            assert model.model_validate({name: None}).model_fields_set == {name}
        else:
            with pytest.raises(ValidationError):
                model.model_validate({name: None})


def test_update_schema_keeps_each_field_constraints_without_null() -> None:
    properties = TaskUpdateRequest.model_json_schema()["properties"]
    assert properties["name"]["pattern"] == NOT_BLANK_PATTERN
    assert (properties["name"]["minLength"], properties["name"]["maxLength"]) == (1, 255)
    assert properties["retry_attempts"]["maximum"] == 100
    assert properties["priority"] == {"$ref": "#/$defs/TaskPriority"}
    assert "default" not in properties["name"]


def test_duplicate_dependencies_are_refused_and_the_schema_says_so() -> None:
    schema = TaskCreateRequest.model_json_schema()["properties"]["dependencies"]
    assert schema["uniqueItems"] is True
    dep = uuid.uuid4()
    with pytest.raises(ValidationError):
        TaskCreateRequest(name="n", command="c", dependencies=[dep, dep])


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("url", "HTTPS://example.test/hook", "ftp://example.test/hook"),
        ("secret", "whsec_" + "A" * 32, "hunter2"),
    ],
)
def test_webhook_create_schema_names_the_accepted_shapes(field: str, good: str, bad: str) -> None:
    schema = WebhookCreateRequest.model_json_schema()["properties"][field]
    strings = [s for s in schema.get("anyOf", [schema]) if s.get("type") == "string"]
    pattern = re.compile(strings[0]["pattern"])
    assert pattern.search(good)
    assert not pattern.search(bad)
    body = {"url": "https://example.test/hook", "events": ["task.created"]}
    WebhookCreateRequest.model_validate({**body, field: good})
    with pytest.raises(ValidationError):
        WebhookCreateRequest.model_validate({**body, field: bad})


def test_a_delivery_page_carries_typed_attempts() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    page = WebhookDeliveryList.model_validate(
        {
            "deliveries": [
                {
                    "id": str(uuid.uuid4()),
                    "webhook_id": str(uuid.uuid4()),
                    "event_id": "msg_1",
                    "event_type": "task.deleted",
                    "status": "succeeded",
                    "attempts": 2,
                    "created_at": now.isoformat(),
                    "attempt_log": [
                        {"attempted_at": now.isoformat(), "status_code": 500, "duration_ms": 3},
                        {"attempted_at": now.isoformat(), "status_code": 200, "duration_ms": 2},
                    ],
                }
            ],
            "total": 1,
            "limit": 50,
            "offset": 0,
        }
    )
    [delivery] = page.deliveries
    assert all(isinstance(a, WebhookDeliveryAttempt) for a in delivery.attempt_log)
    assert [a.status_code for a in delivery.attempt_log] == [500, 200]
