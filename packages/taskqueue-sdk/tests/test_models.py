"""The wire models: defaults, validation that names the field, exclude_unset updates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from taskqueue.models import (
    WORKFLOW_PHASES,
    BatchItemResult,
    BatchResult,
    ClaimRequest,
    ProblemDetails,
    ProjectUpdateRequest,
    Stats,
    Task,
    TaskCreateRequest,
    TaskFilters,
    TaskList,
    TaskPriority,
    TaskStatus,
    TaskType,
    TaskUpdateRequest,
    WebhookCreateRequest,
    WebhookSubscription,
    next_phase,
)
from taskqueue.webhooks import generate_secret

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _task(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "name": "build",
        "command": "make",
        "created_at": NOW.isoformat(),
        "updated_at": NOW.isoformat(),
    }
    body.update(over)
    return body


def _locs(exc: ValidationError) -> list[tuple[object, ...]]:
    return [tuple(err["loc"]) for err in exc.errors()]


def test_enum_values_are_the_wire_strings() -> None:
    assert TaskStatus.TEST_CREATION.value == "TestCreation"
    assert TaskStatus.AI_REVIEW == "AIReview"
    assert [p.value for p in TaskPriority] == ["Low", "Normal", "High", "Critical"]
    assert [t.value for t in TaskType] == ["Simple", "Workflow", "Scheduled"]


def test_task_defaults_match_the_contract() -> None:
    task = Task.model_validate(_task())
    assert task.task_type is TaskType.SIMPLE
    assert task.priority is TaskPriority.NORMAL
    assert task.status is TaskStatus.PENDING
    assert (task.retry_attempts, task.retry_delay) == (3, 30.0)
    assert (task.ai_reviews_required, task.ai_reviews_completed) == (3, 0)
    assert task.dependencies == []
    assert task.environment == {}


def test_responses_ignore_unknown_fields_but_requests_reject_them() -> None:
    assert Task.model_validate(_task(added_in_v2=True)).name == "build"
    with pytest.raises(ValidationError) as info:
        TaskCreateRequest.model_validate({"name": "a", "command": "b", "priorty": "High"})
    assert ("priorty",) in _locs(info.value)


@pytest.mark.parametrize("field", ["name", "command"])
@pytest.mark.parametrize("value", ["", "   "])
def test_blank_name_or_command_is_rejected_naming_the_field(field: str, value: str) -> None:
    body = {"name": "n", "command": "c", field: value}
    with pytest.raises(ValidationError) as info:
        TaskCreateRequest.model_validate(body)
    assert (field,) in _locs(info.value)


def test_create_rejects_bad_numbers_naming_each_field() -> None:
    with pytest.raises(ValidationError) as info:
        TaskCreateRequest(name="n", command="c", timeout=0, retry_attempts=-1, retry_delay=-5)
    assert {("timeout",), ("retry_attempts",), ("retry_delay",)} <= set(_locs(info.value))


def test_create_payload_is_json_ready() -> None:
    dep = uuid.uuid4()
    payload = TaskCreateRequest(name="n", command="c", dependencies=[dep]).to_payload()
    assert payload["dependencies"] == [str(dep)]
    assert payload["priority"] == "Normal"


def test_update_sends_only_the_fields_that_were_set() -> None:
    update = TaskUpdateRequest(priority=TaskPriority.HIGH, description=None)
    assert update.to_payload() == {"priority": "High", "description": None}
    assert TaskUpdateRequest().is_empty


def test_update_validates_like_create() -> None:
    with pytest.raises(ValidationError) as info:
        TaskUpdateRequest(name="  ")
    assert ("name",) in _locs(info.value)
    with pytest.raises(ValidationError) as info:
        TaskUpdateRequest(name="x" * 256, timeout=0)
    assert {("name",), ("timeout",)} <= {loc[:1] for loc in _locs(info.value)}


def test_update_refuses_null_for_a_required_field() -> None:
    with pytest.raises(ValidationError, match="command: cannot be null"):
        TaskUpdateRequest.model_validate({"command": None})
    with pytest.raises(ValidationError, match="name: cannot be null"):
        ProjectUpdateRequest.model_validate({"name": None})


def test_duplicate_dependencies_are_rejected() -> None:
    dep = uuid.uuid4()
    with pytest.raises(ValidationError) as info:
        TaskCreateRequest(name="n", command="c", dependencies=[dep, dep])
    assert ("dependencies",) in _locs(info.value)


def test_filters_become_query_params_and_read_naive_times_as_utc() -> None:
    filters = TaskFilters(status=TaskStatus.RUNNING, created_after=datetime(2026, 1, 1))
    assert filters.to_params() == {
        "status": "Running",
        "created_after": "2026-01-01T00:00:00Z",
    }
    with pytest.raises(ValidationError, match="created_after must not be later"):
        TaskFilters(created_after=NOW, created_before=datetime(2025, 1, 1, tzinfo=UTC))


def test_task_list_knows_whether_more_pages_follow() -> None:
    page = TaskList(tasks=[Task.model_validate(_task())], total=3, limit=1, offset=1)
    assert page.has_more
    assert not TaskList(tasks=[], total=3, limit=1, offset=3).has_more


def test_workflow_phases_advance_in_order_and_end() -> None:
    walked = [TaskStatus.PLANNING]
    while (nxt := next_phase(walked[-1])) is not None:
        walked.append(nxt)
    assert tuple(walked) == WORKFLOW_PHASES
    assert next_phase(TaskStatus.PENDING) is None
    assert TaskStatus.FINALIZED.is_terminal
    assert not TaskStatus.RUNNING.is_terminal


def test_claim_request_limits() -> None:
    with pytest.raises(ValidationError) as info:
        ClaimRequest(worker_id="w", max_tasks=0)
    assert ("max_tasks",) in _locs(info.value)


def test_webhook_secret_is_hidden_in_repr_but_sent_on_the_wire() -> None:
    secret = generate_secret()
    req = WebhookCreateRequest(
        url="https://example.test/hook", events=["task.completed"], secret=secret
    )  # type: ignore[arg-type, list-item]
    assert secret not in repr(req)
    assert req.to_payload()["secret"] == secret
    sub = WebhookSubscription.model_validate(
        {
            "id": str(uuid.uuid4()),
            "url": "https://x.test",
            "events": ["task.failed"],
            "created_at": NOW.isoformat(),
            "secret": secret,
        }
    )
    assert secret not in repr(sub)
    assert sub.to_json_dict()["secret"] == secret


def test_webhook_create_rejects_a_malformed_secret_and_no_events() -> None:
    with pytest.raises(ValidationError) as info:
        WebhookCreateRequest.model_validate(
            {"url": "https://x.test", "events": [], "secret": "hunter2"}
        )
    assert {("events",), ("secret",)} <= set(_locs(info.value))


def test_batch_result_picks_the_failed_items_for_a_retry() -> None:
    items = ["a", "b", "c"]
    problem = ProblemDetails(title="Conflict", status=409)
    result = BatchResult(
        results=[
            BatchItemResult(index=0, ok=True, task=Task.model_validate(_task())),
            BatchItemResult(index=1, ok=False, error=problem),
            BatchItemResult(index=2, ok=False, error=problem),
        ]
    )
    assert result.pick_failed(items) == ["b", "c"]
    assert len(result.succeeded) == 1
    assert not result.all_ok
    with pytest.raises(ValueError, match="pass the sequence that was sent"):
        result.pick_failed(items[:2])


def test_problem_details_keep_extension_members() -> None:
    problem = ProblemDetails.model_validate(
        {"title": "Too Many Requests", "status": 429, "retry_after": 2, "trace": "abc"}
    )
    assert problem.retry_after == 2.0
    assert problem.model_dump()["trace"] == "abc"


def test_stats_keys_are_enums() -> None:
    stats = Stats.model_validate({"tasks_total": 2, "tasks_by_status": {"Running": 2}})
    assert stats.tasks_by_status[TaskStatus.RUNNING] == 2


@given(
    name=st.text(min_size=1, max_size=255).filter(str.strip),
    retries=st.integers(min_value=0, max_value=100),
    priority=st.sampled_from(TaskPriority),
)
def test_create_request_round_trips_through_json(
    name: str, retries: int, priority: TaskPriority
) -> None:
    req = TaskCreateRequest(
        name=name[:255], command="true", retry_attempts=retries, priority=priority
    )
    assert TaskCreateRequest.model_validate_json(req.model_dump_json()) == req
