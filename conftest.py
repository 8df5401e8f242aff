"""Fixtures shared by every app's tests: fast settings, signed MiniVoice requests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime

import pytest
from django.test import Client

from calls.signatures import signed_headers
from minivoice_site.celery import app as celery_app

TEST_SECRET = "whsec_bWluaXZvaWNlLXRlc3RzLW9ubHkta2V5"  # base64 of "minivoice-tests-only-key"
OTHER_SECRET = "whsec_" + "b3RoZXItc2VjcmV0LW9mLTI0LWJ5dGVz"  # valid base64, not ours

WEBHOOK_URL = "/minivoice/webhooks/"
ANSWER_URL = "/minivoice/answer/"


@pytest.fixture(autouse=True)
def fast_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MINIVOICE_WEBHOOK_SECRETS = [TEST_SECRET]


@pytest.fixture(autouse=True)
def eager_celery():
    """Tasks run in-process after commit, whatever broker the environment names.

    The worker tests (calls/tests/test_worker.py) turn this off to go through a real broker.
    """
    # The app reads Django settings with the CELERY_ namespace, and the prefixed key wins
    # over the plain `task_always_eager`, so that is the one to override.
    previous = celery_app.conf.CELERY_TASK_ALWAYS_EAGER
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True
    yield
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = previous


def minivoice_event(
    event: str = "recording.started",
    *,
    call_id: str = "call_123",
    created_at: str = "2026-05-29T12:00:12Z",
    call_status: str | None = None,
    **data,
) -> dict:
    """A webhook payload shaped like MiniVoice's own example.

    The envelope's call status is what it would be at that event, unless given.
    """
    call_status = call_status or _CALL_STATUS_AT.get(event, "in_progress")
    return {
        "event": event,
        "created_at": created_at,
        "call": {"id": call_id, "status": call_status, "direction": "inbound"},
        "variables": {},
        "data": {"call_id": call_id, **data},
    }


_CALL_STATUS_AT = {
    "call.initiated": "initiated",
    "call.ringing": "ringing",
    "call.completed": "completed",
}


def signed(
    body: bytes,
    *,
    secret: str = TEST_SECRET,
    webhook_id: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, str]:
    """Signature headers for the test client (HTTP_… keys)."""
    headers = signed_headers(
        body=body,
        secret=secret,
        webhook_id=webhook_id or f"msg_{uuid.uuid4().hex}",
        timestamp=timestamp,
    )
    return {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}


@pytest.fixture
def post_webhook(client: Client, django_capture_on_commit_callbacks) -> Callable:
    """POST a payload (dict, or raw bytes) to the webhook URL, signed like MiniVoice.

    Callbacks queued on commit (the processing task) run as they would after a real
    commit, though the test's transaction is never committed.
    """

    def post(
        payload: dict | bytes,
        *,
        webhook_id: str | None = None,
        content_type: str = "application/json",
        **sign_options,
    ):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = signed(body, webhook_id=webhook_id, **sign_options)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(WEBHOOK_URL, data=body, content_type=content_type, **headers)

    return post


@pytest.fixture
def post_answer(client: Client) -> Callable:
    """POST a JSON answer_url request signed like MiniVoice's."""

    def post(payload: dict | bytes, *, content_type: str = "application/json", **sign_options):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = signed(body, **sign_options)
        return client.post(ANSWER_URL, data=body, content_type=content_type, **headers)

    return post
