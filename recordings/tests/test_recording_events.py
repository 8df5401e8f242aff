"""recording.* webhooks, sent through the real webhook URL, applied to Recording rows.

MiniVoice delivers at least once and in no guaranteed order, so each test also says in
which order the events were *delivered*, as opposed to when they happened (`created_at`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from calls.models import Call, WebhookEvent
from conftest import minivoice_event
from recordings.models import Recording

START = datetime(2026, 5, 29, 12, 0, tzinfo=UTC)
AUDIO = {
    "duration_seconds": 27,
    "url": "https://media.minivoice.example/rec_call_123.wav",
    "format": "wav",
    "size_bytes": 432_044,
}


def moment(second: int) -> datetime:
    return START + timedelta(seconds=second)


@pytest.fixture
def deliver(post_webhook) -> Callable[..., WebhookEvent]:
    """Send one signed recording event through the webhook URL; return its stored row."""

    def send(event_type: str, *, second: int, **data) -> WebhookEvent:
        webhook_id = f"msg_{uuid.uuid4().hex}"
        status = event_type.removeprefix("recording.")
        payload = minivoice_event(
            event_type,
            created_at=moment(second).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **{"status": status, **data},
        )
        response = post_webhook(payload, webhook_id=webhook_id)
        assert response.status_code == 202, response.content
        event = WebhookEvent.objects.get(webhook_id=webhook_id)
        assert event.state == WebhookEvent.State.PROCESSED, event.error
        return event

    return send


SENT = {
    "started": ("recording.started", {"second": 12, "recording_id": "rec_call_123"}),
    "completed": ("recording.completed", {"second": 40, "recording_id": "rec_call_123", **AUDIO}),
    "failed": (
        "recording.failed",
        {"second": 41, "recording_id": "rec_call_123", "reason": "storage unavailable"},
    ),
}


def send_in_order(deliver, *names: str) -> None:
    for name in names:
        event_type, fields = SENT[name]
        deliver(event_type, **fields)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "delivery_order",
    [("started", "completed"), ("completed", "started")],
    ids=["in-order", "completed-delivered-first"],
)
def test_started_and_completed_in_any_order_end_completed(deliver, delivery_order):
    send_in_order(deliver, *delivery_order)

    recording = Recording.objects.get()
    assert recording.minivoice_id == "rec_call_123"
    assert recording.call == Call.objects.get(minivoice_id="call_123")
    assert recording.status == Recording.Status.COMPLETED
    assert recording.started_at == moment(12)
    assert recording.completed_at == moment(40)
    assert recording.duration_seconds == 27
    assert recording.url == AUDIO["url"]
    assert recording.format == "wav"
    assert recording.size_bytes == 432_044
    assert recording.failed_at is None


@pytest.mark.django_db
def test_duplicate_started_with_different_webhook_ids_is_one_recording(deliver):
    send_in_order(deliver, "started", "started")
    deliver("recording.started", second=13, recording_id="rec_call_123")

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.STARTED
    assert recording.started_at == moment(12)
    assert WebhookEvent.objects.filter(event_type="recording.started").count() == 3


@pytest.mark.django_db
def test_failed_with_reason_stores_the_reason(deliver):
    send_in_order(deliver, "started", "failed")

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.FAILED
    assert recording.failure_reason == "storage unavailable"
    assert recording.failed_at == moment(41)
    assert recording.url == ""


@pytest.mark.django_db
def test_failed_without_recording_id_is_a_recording_without_id(deliver):
    deliver("recording.failed", second=41, reason="could not start")

    recording = Recording.objects.get()
    assert recording.minivoice_id is None
    assert recording.call.minivoice_id == "call_123"
    assert recording.status == Recording.Status.FAILED
    assert recording.failure_reason == "could not start"


@pytest.mark.django_db
def test_two_failures_without_recording_id_do_not_collide(deliver):
    deliver("recording.failed", second=41)
    deliver("recording.failed", second=50)

    assert list(Recording.objects.values_list("minivoice_id", "status")) == [
        (None, "failed"),
        (None, "failed"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "delivery_order",
    [("failed", "completed"), ("completed", "failed"), ("started", "failed", "completed")],
    ids=["failed-then-completed", "completed-then-failed", "started-failed-completed"],
)
def test_completed_outranks_failed(deliver, delivery_order):
    send_in_order(deliver, *delivery_order)

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.COMPLETED
    assert recording.url == AUDIO["url"]
    assert recording.completed_at == moment(40)


@pytest.mark.django_db
def test_started_alone_is_not_reported_as_audio(deliver):
    send_in_order(deliver, "started")

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.STARTED
    assert recording.url == ""
    assert recording.completed_at is None
    assert recording.duration_seconds is None
    assert not Recording.objects.filter(status=Recording.Status.COMPLETED).exists()


@pytest.mark.django_db
def test_late_started_after_failed_keeps_failed(deliver):
    send_in_order(deliver, "failed", "started")

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.FAILED
    assert recording.started_at == moment(12)


# -- Events that name no usable recording ---------------------------------------------------

NO_USABLE_ID = {
    "missing": {},
    "empty": {"recording_id": ""},
    "blank": {"recording_id": "   "},
    "object": {"recording_id": {"id": "rec_call_123"}},
    "too-long": {"recording_id": "r" * 129},
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("event_type", "step"),
    [("recording.started", "Recording started"), ("recording.completed", "Recording completed")],
    ids=["started", "completed"],
)
@pytest.mark.parametrize("fields", NO_USABLE_ID.values(), ids=NO_USABLE_ID.keys())
def test_started_or_completed_without_a_usable_recording_id_makes_no_recording(
    deliver, event_type, step, fields
):
    # Nothing to attach it to, and an anonymous row would never be completed or matched.
    event = deliver(event_type, second=12, **{**AUDIO, **fields})

    assert event.state == WebhookEvent.State.PROCESSED
    assert event.error == ""
    assert event.attempts == 1
    assert not Recording.objects.exists()
    call = Call.objects.get(minivoice_id="call_123")
    assert call.last_step == step
    assert call.last_step_at == moment(12)


@pytest.mark.django_db
@pytest.mark.parametrize("fields", NO_USABLE_ID.values(), ids=NO_USABLE_ID.keys())
def test_failed_without_a_usable_recording_id_is_one_anonymous_failed_recording(deliver, fields):
    event = deliver("recording.failed", second=41, reason="could not start", **fields)

    assert event.attempts == 1
    recording = Recording.objects.get()
    assert recording.minivoice_id is None
    assert recording.call == Call.objects.get(minivoice_id="call_123")
    assert recording.status == Recording.Status.FAILED
    assert recording.failed_at == moment(41)
    assert recording.failure_reason == "could not start"
    assert (recording.url, recording.started_at, recording.completed_at) == ("", None, None)
    assert recording.call.last_step == "Recording failed: could not start"


@pytest.mark.django_db
def test_started_without_id_then_completed_with_id_is_one_completed_recording(deliver):
    deliver("recording.started", second=12)
    send_in_order(deliver, "completed")

    recording = Recording.objects.get()
    assert recording.minivoice_id == "rec_call_123"
    assert recording.status == Recording.Status.COMPLETED
    assert recording.started_at is None  # the start named no recording


# -- Media URLs -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_media_url_of_5000_characters_is_stored_whole(deliver):
    prefix = "https://media.minivoice.example/rec_call_123.wav?signature="
    url = prefix + "s" * (5000 - len(prefix))
    assert len(url) == 5000

    event = deliver("recording.completed", second=40, recording_id="rec_call_123", url=url)

    assert event.payload["data"]["url"] == url
    recording = Recording.objects.get()
    assert recording.status == Recording.Status.COMPLETED
    assert len(recording.url) == 5000
    assert recording.url == url


@pytest.mark.django_db
def test_later_completed_without_url_keeps_the_stored_url(deliver):
    send_in_order(deliver, "completed")
    deliver("recording.completed", second=45, recording_id="rec_call_123", url="")

    recording = Recording.objects.get()
    assert recording.url == AUDIO["url"]
    assert recording.completed_at == moment(40)
