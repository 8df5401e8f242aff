"""Processing of stored MiniVoice webhooks: call transitions, last step, failures, retries.

Events go through the real webhook URL (signed), are stored, and are processed by the
Celery task (eager in tests) once the request's transaction commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from calls.models import AnswerExchange, Call, WebhookEvent
from calls.processing import batch as processing
from calls.processing import handlers
from calls.processing.batch import event_mark_failed, event_process
from calls.tasks import process_webhook_event
from calls.timeline import call_timeline
from conftest import minivoice_event
from recordings.models import Recording

START = datetime(2026, 5, 29, 12, 0, tzinfo=UTC)


def moment(second: int) -> datetime:
    return START + timedelta(seconds=second)


def stamp(second: int) -> str:
    """`created_at` as MiniVoice writes it, `second` seconds after START."""
    return moment(second).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def deliver(post_webhook) -> Callable[..., WebhookEvent]:
    """Send one signed event through the webhook URL; return its stored row."""

    def send(
        event_type: str,
        *,
        second: int = 0,
        call_id: str = "call_123",
        payload: dict | None = None,
        **data,
    ) -> WebhookEvent:
        webhook_id = f"msg_{uuid.uuid4().hex}"
        if payload is None:
            payload = minivoice_event(event_type, call_id=call_id, created_at=stamp(second), **data)
        response = post_webhook(payload, webhook_id=webhook_id)
        assert response.status_code == 202, response.content
        return WebhookEvent.objects.get(webhook_id=webhook_id)

    return send


@pytest.fixture
def answer(post_answer) -> Callable[..., None]:
    """MiniVoice asks the answer_url for call_123 at `second`."""

    def ask(*, second: int, call_id: str = "call_123") -> None:
        response = post_answer(
            {
                "call": {"id": call_id, "status": "in_progress", "direction": "inbound"},
                "variables": {},
                "created_at": stamp(second),
            }
        )
        assert response.status_code == 200, response.content

    return ask


def call_123() -> Call:
    return Call.objects.get(minivoice_id="call_123")


# -- Call lifecycle -----------------------------------------------------------------------


@pytest.mark.django_db
def test_call_events_move_the_call_through_its_lifecycle(deliver):
    deliver("call.initiated", second=0)
    call = call_123()
    assert (call.status, call.started_at, call.answered_at) == ("initiated", moment(0), None)

    deliver("call.ringing", second=2)
    call.refresh_from_db()
    assert call.status == "ringing"

    deliver("call.answered", second=5)
    call.refresh_from_db()
    assert (call.status, call.answered_at, call.ended_at) == ("in_progress", moment(5), None)

    event = deliver("call.completed", second=65, status="completed", duration_seconds=60)
    call.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED
    assert call.status == "ended"
    assert call.final_status == "completed"
    assert call.started_at == moment(0)
    assert call.answered_at == moment(5)
    assert call.ended_at == moment(65)
    assert call.duration_seconds == 60


@pytest.mark.django_db
@pytest.mark.parametrize("end_status", ["busy", "no_answer", "failed", "canceled"])
def test_unanswered_call_ends_with_its_final_status(deliver, end_status):
    deliver("call.initiated", second=0)
    deliver("call.ringing", second=1)
    deliver("call.completed", second=20, status=end_status, duration_seconds=0)

    call = call_123()
    assert call.status == "ended"
    assert call.final_status == end_status
    assert call.answered_at is None
    assert call.ended_at == moment(20)
    assert call.duration_seconds == 0


@pytest.mark.django_db
@pytest.mark.parametrize("answered_second", [10, 40], ids=["happened-before-end", "after-end"])
def test_late_answered_never_reopens_an_ended_call(deliver, answered_second):
    deliver("call.ringing", second=2)
    deliver("call.completed", second=30, status="busy", duration_seconds=0)

    event = deliver("call.answered", second=answered_second)

    call = call_123()
    assert event.state == WebhookEvent.State.PROCESSED
    assert call.status == "ended"
    assert call.final_status == "busy"
    assert call.ended_at == moment(30)


@pytest.mark.django_db
def test_duplicate_completed_with_another_status_keeps_the_first_final_status(deliver):
    deliver("call.completed", second=30, status="busy", duration_seconds=0)
    deliver("call.completed", second=31, status="completed", duration_seconds=0)

    call = call_123()
    assert call.status == "ended"
    assert call.final_status == "busy"
    assert call.ended_at == moment(30)


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["hung_up", "", None, 42], ids=repr)
def test_completed_with_unknown_status_ends_call_without_final_status(deliver, status):
    event = deliver("call.completed", second=30, status=status, duration_seconds=12)

    call = call_123()
    assert event.state == WebhookEvent.State.PROCESSED
    assert call.status == "ended"
    assert call.final_status == ""
    assert call.ended_at == moment(30)
    assert call.duration_seconds == 12


@pytest.mark.django_db
def test_call_known_only_from_recording_started_is_in_progress(deliver):
    # MiniVoice's own example: recording.started, its envelope saying "in_progress".
    event = deliver("recording.started", second=12, recording_id="rec_call_123")

    assert event.payload["call"]["status"] == "in_progress"
    assert event.state == WebhookEvent.State.PROCESSED
    call = call_123()
    assert call.status == "in_progress"
    assert call.started_at == moment(12)
    assert (call.answered_at, call.ended_at) == (None, None)
    assert Recording.objects.get().status == Recording.Status.STARTED


@pytest.mark.django_db
def test_envelope_status_ringing_moves_a_new_call_to_ringing(deliver):
    deliver("answer_url.failed", second=3, call_status="ringing", error={"code": "timeout"})

    assert call_123().status == "ringing"


@pytest.mark.django_db
@pytest.mark.parametrize("event_type", ["recording.started", "recording.completed"])
def test_recording_event_after_the_end_never_reopens_the_call(deliver, event_type):
    deliver("call.answered", second=5)
    deliver("call.completed", second=30, status="completed", duration_seconds=25)

    event = deliver(event_type, second=35, call_status="in_progress", recording_id="rec_call_123")

    assert event.payload["call"]["status"] == "in_progress"
    assert event.state == WebhookEvent.State.PROCESSED
    call = call_123()
    assert (call.status, call.final_status, call.ended_at) == ("ended", "completed", moment(30))


@pytest.mark.django_db
def test_call_initiated_with_envelope_status_initiated_leaves_it_initiated(deliver):
    event = deliver("call.initiated", second=0)

    assert event.payload["call"]["status"] == "initiated"
    call = call_123()
    assert call.status == "initiated"
    assert call.started_at == moment(0)


@pytest.mark.django_db
@pytest.mark.parametrize("seconds", [(10, 3), (3, 10)], ids=["earlier-delivered-last", "in-order"])
def test_call_initiated_twice_keeps_the_earlier_start(deliver, seconds):
    for second in seconds:
        deliver("call.initiated", second=second)

    call = call_123()
    assert call.started_at == moment(3)
    assert call.status == "initiated"


@pytest.mark.django_db
def test_answered_dated_after_the_end_sets_no_answer_time(deliver):
    deliver("call.ringing", second=2)
    deliver("call.completed", second=30, status="no_answer", duration_seconds=0)

    event = deliver("call.answered", second=40)

    assert event.state == WebhookEvent.State.PROCESSED
    call = call_123()
    assert call.answered_at is None
    assert (call.status, call.final_status) == ("ended", "no_answer")


@pytest.mark.django_db
def test_answered_again_after_the_end_keeps_the_first_answer_time(deliver):
    deliver("call.answered", second=5)
    deliver("call.completed", second=30, status="completed", duration_seconds=25)

    deliver("call.answered", second=40)

    call = call_123()
    assert call.answered_at == moment(5)
    assert call.status == "ended"


@pytest.mark.django_db
def test_answer_url_request_dated_after_the_end_leaves_the_last_step(answer, deliver):
    deliver("call.answered", second=5)
    deliver("call.completed", second=30, status="completed", duration_seconds=25)

    answer(second=40)

    call = call_123()
    assert (call.last_step, call.last_step_at) == (
        "Call ended (completed) after: Answered",
        moment(30),
    )
    assert (call.status, call.answered_at, call.ended_at) == ("ended", moment(5), moment(30))
    exchange = AnswerExchange.objects.get()  # still logged against the call
    assert (exchange.call, exchange.occurred_at) == (call, moment(40))


@pytest.mark.django_db
@pytest.mark.parametrize("call_id", ["call\x01_123", "call\n123", "call\x1b123"])
def test_event_whose_call_id_has_a_control_character_is_stored_and_applied_to_no_call(
    deliver, call_id
):
    event = deliver("call.answered", second=5, call_id=call_id)

    assert event.call_minivoice_id == ""
    assert event.state == WebhookEvent.State.IGNORED
    assert event.error == ("The call id has control characters. The event was applied to no call.")
    assert not Call.objects.exists()


@pytest.mark.django_db
def test_event_whose_call_id_is_too_long_says_so_for_support(deliver):
    event = deliver("call.answered", second=5, call_id="c" * 129)

    assert event.call_minivoice_id == ""
    assert event.state == WebhookEvent.State.IGNORED
    assert "longer than 128 characters" in event.error
    assert not Call.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("order", ["event-stored-first", "exchange-stored-first"])
def test_timeline_puts_the_answer_before_an_event_of_the_same_instant(answer, deliver, order):
    # MiniVoice asks the answer_url before it reports what followed from the answer.
    if order == "event-stored-first":
        event = deliver("recording.started", second=5, recording_id="rec_call_123")
        answer(second=5)
    else:
        answer(second=5)
        event = deliver("recording.started", second=5, recording_id="rec_call_123")

    entries = call_timeline(call_id="call_123")

    assert [(entry.kind, entry.at) for entry in entries] == [
        ("answer_url", moment(5)),
        ("webhook", moment(5)),
    ]
    assert entries[0].exchange == AnswerExchange.objects.get()
    assert entries[1].event == event


# -- Last step ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_answer_url_sets_the_last_step(answer):
    answer(second=5)

    call = call_123()
    assert call.last_step.startswith("default v1, step 'start'")
    assert "start_recording" in call.last_step
    assert call.last_step_at == moment(5)


@pytest.mark.django_db
def test_later_event_updates_the_last_step(answer, deliver):
    answer(second=5)
    deliver("recording.started", second=6, recording_id="rec_call_123", status="started")

    call = call_123()
    assert call.last_step == "Recording started"
    assert call.last_step_at == moment(6)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "delivery_order",
    [
        ("call.completed", "recording.completed"),
        ("recording.completed", "call.completed"),
    ],
    ids=["in-order", "recording-delivered-first"],
)
def test_event_after_the_call_ended_leaves_the_last_step(answer, deliver, delivery_order):
    answer(second=5)
    events = {
        "call.completed": {"second": 30, "status": "completed", "duration_seconds": 25},
        "recording.completed": {
            "second": 35,
            "recording_id": "rec_call_123",
            "status": "completed",
            "duration_seconds": 25,
        },
    }
    for event_type in delivery_order:
        deliver(event_type, **events[event_type])

    call = call_123()
    assert call.last_step.startswith("Call ended (completed) after: default v1, step 'start'")
    assert call.last_step_at == moment(30)
    assert Recording.objects.get().status == Recording.Status.COMPLETED


@pytest.mark.django_db
@pytest.mark.parametrize(
    "delivery_order",
    [("call.answered", "call.completed"), ("call.completed", "call.answered")],
    ids=["in-order", "answered-delivered-after-the-end"],
)
def test_the_end_wins_a_tie_with_news_of_the_same_second(deliver, delivery_order):
    deliver("call.ringing", second=2)
    events = {
        "call.answered": {"second": 30},
        "call.completed": {"second": 30, "status": "completed", "duration_seconds": 0},
    }
    for event_type in delivery_order:
        deliver(event_type, **events[event_type])

    call = call_123()
    assert call.last_step == "Call ended (completed) after: Answered"
    assert call.last_step_at == moment(30)


@pytest.mark.django_db
def test_news_from_before_the_end_delivered_after_it_updates_how_far_the_caller_got(
    answer, deliver
):
    answer(second=5)
    deliver("call.completed", second=30, status="busy")

    deliver("recording.started", second=10, recording_id="rec_call_123")

    call = call_123()
    assert call.last_step == "Call ended (busy) after: Recording started"
    assert call.last_step_at == moment(30)


@pytest.mark.django_db
def test_an_end_with_no_step_before_it_says_only_how_it_ended(deliver):
    deliver("call.completed", second=30, status="no_answer")

    assert call_123().last_step == "Call ended (no answer)"


@pytest.mark.django_db
def test_older_event_delivered_late_does_not_overwrite_a_newer_step(answer, deliver):
    answer(second=5)
    deliver("call.ringing", second=2)

    call = call_123()
    assert call.last_step.startswith("default v1, step 'start'")
    assert call.last_step_at == moment(5)
    assert call.status == "in_progress"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"code": "answer_url_error", "message": "invalid action payload"}, "answer_url_error"),
        ({"code": "timeout"}, "timeout"),
        ("not an object", "unknown error"),
        (None, "unknown error"),
    ],
)
def test_answer_url_failed_stores_a_step_with_the_error_code(answer, deliver, error, expected):
    answer(second=5)
    event = deliver("answer_url.failed", second=6, error=error)

    call = call_123()
    assert event.state == WebhookEvent.State.PROCESSED
    assert expected in call.last_step
    assert call.last_step_at == moment(6)


# -- Unknown events -----------------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_event_type_is_stored_and_ignored(deliver):
    deliver("call.answered", second=5)
    before = call_123()

    event = deliver("call.transcribed", second=20, transcript="hello")
    stranger = deliver("call.transcribed", second=21, call_id="call_999")

    assert event.state == stranger.state == WebhookEvent.State.IGNORED
    assert event.error == ""
    assert event.payload["data"]["transcript"] == "hello"
    assert event.call_minivoice_id == "call_123"
    after = call_123()
    assert (after.status, after.last_step, after.last_step_at, after.updated_at) == (
        before.status,
        before.last_step,
        before.last_step_at,
        before.updated_at,
    )
    assert not Call.objects.filter(minivoice_id="call_999").exists()
    assert not Recording.objects.exists()


@pytest.mark.django_db
def test_event_without_call_id_is_ignored_with_a_reason(deliver):
    payload = minivoice_event("call.completed", created_at=stamp(30), status="busy")
    del payload["call"]
    del payload["data"]["call_id"]

    event = deliver("call.completed", payload=payload)

    assert event.state == WebhookEvent.State.IGNORED
    assert "no call id" in event.error
    assert not Call.objects.exists()


# -- Processing machinery -----------------------------------------------------------------


@pytest.mark.django_db
def test_processing_a_processed_event_again_changes_nothing(deliver):
    event = deliver("call.completed", second=30, status="busy", duration_seconds=0)
    assert (event.state, event.attempts) == (WebhookEvent.State.PROCESSED, 1)
    call_before = call_123()

    event_process(event_id=event.pk)
    process_webhook_event.apply(args=[event.pk])

    processed_at = event.processed_at
    event.refresh_from_db()
    assert (event.state, event.attempts, event.processed_at) == ("processed", 1, processed_at)
    assert call_123().updated_at == call_before.updated_at


@pytest.mark.django_db
def test_processing_failure_is_kept_rolled_back_and_replayable(deliver, monkeypatch):
    real_apply = handlers.HANDLERS["recording.completed"]

    def apply_then_fail(*args):
        real_apply(*args)  # the Recording row is written, then the handler fails
        raise RuntimeError("boom")

    monkeypatch.setitem(handlers.HANDLERS, "recording.completed", apply_then_fail)
    event = deliver(
        "recording.completed", second=40, recording_id="rec_call_123", status="completed"
    )

    assert event.state == WebhookEvent.State.FAILED
    assert "boom" in event.error
    assert event.attempts == 1  # in-process mode tries once and keeps the failure
    assert event.processed_at is None
    assert not Recording.objects.exists()
    assert not Call.objects.exists()

    monkeypatch.undo()
    process_webhook_event.apply(args=[event.pk])

    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.error == ""
    assert event.attempts == 2  # the failed try and the replay
    assert Recording.objects.get().status == Recording.Status.COMPLETED
    assert call_123().last_step == "Recording completed"


@pytest.mark.django_db
def test_failing_event_is_tried_once_in_process_and_left_failed(deliver, monkeypatch):
    # With no broker there is no waiting between tries: retrying inside the request would
    # only repeat the failure (and hold MiniVoice's request) nine times.
    tries = []

    def fail(*args):
        tries.append(args)
        raise RuntimeError("still broken")

    monkeypatch.setitem(handlers.HANDLERS, "recording.started", fail)

    event = deliver("recording.started", second=12, recording_id="rec_call_123")

    assert len(tries) == 1
    assert event.state == WebhookEvent.State.FAILED
    assert event.attempts == 1
    assert "still broken" in event.error
    assert event.processed_at is None
    assert event.raw_body
    assert not Call.objects.exists()
    assert not Recording.objects.exists()


@pytest.mark.django_db
def test_task_run_in_process_on_a_failing_event_returns_without_raising(deliver, monkeypatch):
    event = deliver("call.transcribed", second=5)  # any stored row; made pending below
    WebhookEvent.objects.filter(pk=event.pk).update(
        state=WebhookEvent.State.PENDING, event_type="call.answered", attempts=0
    )
    monkeypatch.setattr(processing, "event_apply", _raise_boom)

    result = process_webhook_event.apply(args=[event.pk])

    assert result.successful()
    event.refresh_from_db()
    assert (event.state, event.attempts) == (WebhookEvent.State.FAILED, 1)
    assert "boom" in event.error
    assert not Call.objects.exists()


def _raise_boom(*args, **kwargs):
    raise RuntimeError("boom")


@pytest.mark.django_db
def test_mark_failed_records_the_error_on_an_unfinished_event():
    event = WebhookEvent.objects.create(
        webhook_id="msg_pending", event_type="call.ringing", raw_body="{}", payload={}
    )

    event_mark_failed(event_id=event.pk, error="Traceback: boom")

    event.refresh_from_db()
    assert (event.state, event.error, event.attempts) == ("failed", "Traceback: boom", 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("event_type", "state"),
    [("call.answered", "processed"), ("call.transcribed", "ignored")],
)
def test_mark_failed_never_touches_a_finished_event(deliver, event_type, state):
    event = deliver(event_type, second=5)
    assert event.state == state

    event_mark_failed(event_id=event.pk, error="late failure from another worker")

    event.refresh_from_db()
    assert (event.state, event.error, event.attempts) == (state, "", 1)


@pytest.mark.django_db
def test_task_on_a_missing_event_returns_quietly():
    result = process_webhook_event.apply(args=[987_654])

    assert result.successful()
    assert event_process(event_id=987_654) is None
    assert not WebhookEvent.objects.exists()


def _payload(event_type: str, envelope: dict | None = None, **data) -> dict:
    payload = minivoice_event(event_type, created_at=stamp(30), **data)
    payload.update(envelope or {})
    return payload


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        _payload("call.completed", status="completed", duration_seconds="abc"),
        _payload("call.completed", status="completed", duration_seconds=-5),
        _payload("call.completed", status="completed", duration_seconds=1.5),
        _payload("call.completed", status=["busy"], duration_seconds=True),
        _payload("call.completed", {"call": "call_123"}, status="busy"),
        _payload("call.completed", {"data": ["call_123", "busy"]}),
        _payload("call.completed", {"data": "busy"}),
        _payload("call.answered", {"created_at": "garbage"}),
        _payload("call.answered", {"created_at": 1780056012}),
        _payload("call.answered", {"created_at": "2026-13-45T99:00:00Z"}),
        _payload("call.answered", {"call": {"id": "call_123", "direction": {"x": 1}}}),
        _payload("call.answered", {"call": {"id": "call_123", "from": ["+1555"], "to": 5}}),
        _payload("answer_url.failed", error={"code": ["x"], "message": {"y": 1}}),
        _payload(
            "recording.completed",
            recording_id="rec_call_123",
            duration_seconds="long",
            size_bytes={"bytes": 1},
            url=42,
            format=["wav"],
        ),
        _payload("recording.started", recording_id={"id": "rec"}),
        _payload("recording.failed", recording_id="rec_call_123", reason={"why": "disk"}),
        _payload("call.completed", {"event": ["call.completed"]}),
        _payload("call.completed", {"variables": "not an object"}, status="busy"),
    ],
    ids=[
        "duration-text",
        "duration-negative",
        "duration-fraction",
        "status-list-duration-bool",
        "call-is-a-string",
        "data-is-a-list",
        "data-is-a-string",
        "created_at-garbage",
        "created_at-number",
        "created_at-impossible-date",
        "direction-object",
        "from-list-to-number",
        "error-fields-not-text",
        "recording-fields-wrong-types",
        "recording_id-object",
        "reason-object",
        "event-is-a-list",
        "variables-not-an-object",
    ],
)
def test_fields_of_the_wrong_type_never_fail_processing(deliver, payload):
    event = deliver("", payload=payload)

    assert event.state in {WebhookEvent.State.PROCESSED, WebhookEvent.State.IGNORED}, event.error
    assert event.attempts == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        _payload("call.completed", status="completed", duration_seconds=10**12),
        _payload("call.completed", status="completed", duration_seconds=1e300),
        _payload(
            "recording.completed",
            recording_id="rec_call_123",
            status="completed",
            duration_seconds=10**20,
            size_bytes=10**30,
        ),
    ],
    ids=["call-duration-huge", "call-duration-huge-float", "recording-numbers-huge"],
)
def test_numbers_too_large_for_a_column_never_fail_processing(deliver, payload):
    event = deliver("", payload=payload)

    assert event.state == WebhookEvent.State.PROCESSED, event.error


@pytest.mark.django_db
def test_wrong_types_leave_the_call_consistent(deliver):
    deliver("call.answered", payload=_payload("call.answered", {"created_at": "garbage"}))
    deliver(
        "",
        payload=_payload("call.completed", {"data": ["x"], "call": {"id": "call_123"}}),
    )
    deliver("", payload=_payload("call.completed", status="busy", duration_seconds="abc"))

    call = call_123()
    assert call.status == "ended"
    # The first call.completed had no readable status; the second one's is kept.
    assert call.final_status == "busy"
    assert call.duration_seconds is None
    answered = WebhookEvent.objects.get(event_type="call.answered")
    assert answered.occurred_at is None
    assert call.answered_at == answered.received_at


@pytest.mark.django_db
def test_text_with_a_nul_character_is_stored_and_processed(deliver):
    # JSON may escape U+0000 inside a string; PostgreSQL stores it in neither text nor jsonb.
    event = deliver("recording.failed", second=5, recording_id="rec_1", reason="disk\u0000full")

    assert event.state == WebhookEvent.State.PROCESSED, event.error
    recording = Recording.objects.get(minivoice_id="rec_1")
    assert recording.status == Recording.Status.FAILED
    assert recording.failure_reason.startswith("disk")


@pytest.mark.django_db
def test_body_with_a_nul_byte_is_kept_as_malformed(post_webhook):
    response = post_webhook(b'{"event": "call.answered"}\x00', webhook_id="msg_nul")

    assert response.status_code == 400, response.content
    assert WebhookEvent.objects.get(webhook_id="msg_nul").state == WebhookEvent.State.MALFORMED
