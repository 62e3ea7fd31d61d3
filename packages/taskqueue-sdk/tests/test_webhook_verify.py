"""verify_webhook: the verification matrix of the Standard Webhooks scheme."""

from __future__ import annotations

import json
import time

import pytest

from taskqueue.errors import WebhookVerificationError
from taskqueue.models import WebhookEventType
from taskqueue.webhooks import generate_secret, sign_webhook, verify_webhook, webhook_headers

BODY = json.dumps(
    {"type": "task.completed", "timestamp": "2026-01-01T00:00:00Z", "data": {"id": "x"}}
).encode()


def test_generate_secret_has_the_whsec_prefix_and_is_random() -> None:
    a, b = generate_secret(), generate_secret()
    assert a.startswith("whsec_")
    assert a != b


def test_valid_request_returns_the_event() -> None:
    secret = generate_secret()
    event = verify_webhook(webhook_headers(secret, BODY), BODY, secret)
    assert event.type is WebhookEventType.TASK_COMPLETED
    assert event.data == {"id": "x"}


def test_header_names_are_case_insensitive() -> None:
    secret = generate_secret()
    headers = {k.title(): v for k, v in webhook_headers(secret, BODY).items()}
    assert verify_webhook(headers, BODY, secret).type is WebhookEventType.TASK_COMPLETED


def test_tampered_body_is_rejected() -> None:
    secret = generate_secret()
    headers = webhook_headers(secret, BODY)
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verify_webhook(headers, BODY.replace(b"completed", b"failed"), secret)


def test_wrong_secret_is_rejected() -> None:
    headers = webhook_headers(generate_secret(), BODY)
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verify_webhook(headers, BODY, generate_secret())


def test_too_old_is_rejected() -> None:
    secret = generate_secret()
    headers = webhook_headers(secret, BODY, timestamp=int(time.time()) - 301)
    with pytest.raises(WebhookVerificationError, match="old"):
        verify_webhook(headers, BODY, secret)


def test_too_far_in_the_future_is_rejected() -> None:
    secret = generate_secret()
    headers = webhook_headers(secret, BODY, timestamp=int(time.time()) + 301)
    with pytest.raises(WebhookVerificationError, match="in the future"):
        verify_webhook(headers, BODY, secret)


def test_tolerance_is_configurable() -> None:
    secret = generate_secret()
    headers = webhook_headers(secret, BODY, timestamp=1000)
    assert verify_webhook(headers, BODY, secret, tolerance=10, now=1009).data == {"id": "x"}


def test_any_one_of_several_signatures_is_accepted_during_rotation() -> None:
    old, new = generate_secret(), generate_secret()
    headers = webhook_headers([old, new], BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify_webhook(headers, BODY, old)
    verify_webhook(headers, BODY, new)
    # a receiver that knows both secrets accepts a sender that signs with only one
    verify_webhook(webhook_headers(new, BODY), BODY, [old, new])


def test_missing_headers_are_named() -> None:
    secret = generate_secret()
    headers = webhook_headers(secret, BODY)
    del headers["webhook-signature"]
    with pytest.raises(WebhookVerificationError, match="missing webhook-signature"):
        verify_webhook(headers, BODY, secret)


def test_signed_body_that_is_not_an_event_is_rejected() -> None:
    secret = generate_secret()
    with pytest.raises(WebhookVerificationError, match="not a Task Queue event"):
        verify_webhook(webhook_headers(secret, b"[1]"), b"[1]", secret)


def test_signature_matches_the_standard_webhooks_reference_vector() -> None:
    # The reference example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    body = '{"test": 2432232314}'
    assert (
        sign_webhook(secret, msg_id, 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
