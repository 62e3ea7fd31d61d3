"""Property-based requests generated from the app's OpenAPI schema: every request the schema
calls valid is accepted, nothing answers 5xx, and every response matches the documented status
codes, content types, headers and schemas.

Examples per operation come from the Hypothesis profile the platform registers (``dev``: 25,
``ci``: 100, the default under CI; pick one with ``HYPOTHESIS_PROFILE``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

if TYPE_CHECKING:
    from conftest import ServerProcess

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_acceptance,  # the models' JSON schema says exactly what they accept
]


async def test_every_operation_honours_its_schema(
    make_server: Callable[..., ServerProcess], sqlite_url: str, key_for: Callable[..., Any]
) -> None:
    # A server of its own: the fuzzer subscribes webhooks to any URL it makes up, and their
    # deliveries must not queue in front of other tests' deliveries on the shared server.
    # Claims are not held: a generated `wait` of up to 30 s per example would take minutes.
    server = make_server(sqlite_url, TASKQUEUE_CLAIM_WAIT_MAX="0.05")
    api_key = await key_for(server)
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    # The server refuses NUL in any text with 422 (PostgreSQL cannot store it; see
    # test_poison.py); the schema does not spell that out for every string, so none is sent.
    schema.config.generation.update(allow_x00=False)
    auth = {"X-API-Key": api_key, "Authorization": f"Bearer {api_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        _exercise(operation, auth)


def _without_cursor(case: Any) -> Any:
    # A list cursor is valid only when the server issued it (it carries a digest); a made-up
    # one is refused with 400 by design, which test_task_pages checks. Fuzz the rest.
    if case.query:
        case.query.pop("cursor", None)
    return case


def _exercise(operation: Any, auth: dict[str, str]) -> None:
    # max_examples and deadline come from the loaded profile.
    @given(case=operation.as_strategy().map(_without_cursor))
    @settings(suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        case.call_and_validate(headers=auth, checks=CHECKS)

    check()
