"""A failed event is retried on a schedule kept in its row, then given up; a person can
always replay it (calls.processing.handover.events_replay). No failure is a dead end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call, WebhookEvent, retry_delay
from calls.processing import batch as processing
from calls.processing.batch import event_mark_failed
from calls.processing.handover import events_replay, events_requeue_due
from calls.tasks import PENDING_TOO_LONG, process_webhook_event
from conftest import minivoice_event


def stored_event(state: str = WebhookEvent.State.PENDING, *, call_id: str = "call_1", **fields):
    row = {
        "webhook_id": f"msg_{call_id}_{WebhookEvent.objects.count()}",
        "event_type": "call.ringing",
        "call_minivoice_id": call_id,
        "raw_body": "{}",
        "payload": minivoice_event("call.ringing", call_id=call_id),
        "state": state,
    }
    return WebhookEvent.objects.create(**{**row, **fields})


@pytest.fixture
def replay(django_capture_on_commit_callbacks):
    """events_replay, with what it sends after commit run as a real commit would."""

    def run(events):
        with django_capture_on_commit_callbacks(execute=True):
            return events_replay(events=events)

    return run


def _raise_boom(event):
    raise RuntimeError("boom")


def test_retries_back_off_from_30_seconds_to_an_hour():
    delays = [retry_delay(attempts) for attempts in range(1, 12)]

    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert delays == sorted(delays)
    assert delays[-1] == timedelta(hours=1)
    assert retry_delay(10_000) == timedelta(hours=1)  # no overflow on a long outage


@pytest.mark.django_db
def test_each_failure_schedules_the_next_try_later(monkeypatch):
    event = stored_event()
    monkeypatch.setattr(processing, "event_apply", _raise_boom)

    tries = []
    for _ in range(3):
        process_webhook_event.apply(args=[event.pk])
        event.refresh_from_db()
        tries.append(event.next_attempt_at - timezone.now())

    assert (event.state, event.attempts) == (WebhookEvent.State.FAILED, 3)
    assert "boom" in event.error
    assert tries[0] < tries[1] < tries[2]


@pytest.mark.django_db
def test_an_event_failing_past_the_retry_period_is_given_up(settings):
    settings.MINIVOICE_EVENT_RETRY_HOURS = 2
    event = stored_event(received_at=timezone.now() - timedelta(hours=2))

    event_mark_failed(event_id=event.pk, error="Traceback: still broken")

    event.refresh_from_db()
    assert event.state == WebhookEvent.State.GAVE_UP
    assert event.next_attempt_at is None
    assert event.error == "Traceback: still broken"
    # Given up: the sweep leaves it to a person.
    assert events_requeue_due(pending_for=PENDING_TOO_LONG) == 0


@pytest.mark.django_db
def test_an_event_within_the_retry_period_stays_failed(settings):
    settings.MINIVOICE_EVENT_RETRY_HOURS = 2
    event = stored_event(received_at=timezone.now() - timedelta(minutes=90))

    event_mark_failed(event_id=event.pk, error="Traceback: still broken")

    event.refresh_from_db()
    assert event.state == WebhookEvent.State.FAILED
    assert event.next_attempt_at <= event.received_at + timedelta(hours=2)


# -- Replay ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_replay_processes_failed_given_up_and_stuck_events_once_more(replay):
    failed = stored_event(WebhookEvent.State.FAILED, call_id="call_f", attempts=3, error="x")
    gave_up = stored_event(WebhookEvent.State.GAVE_UP, call_id="call_g", attempts=30, error="y")
    stuck = stored_event(WebhookEvent.State.PENDING, call_id="call_p")

    result = replay(WebhookEvent.objects.all())

    assert sorted(result.sent) == sorted([failed.pk, gave_up.pk, stuck.pk])
    assert result.already_done == 0
    for event in (failed, gave_up, stuck):
        event.refresh_from_db()
        assert (event.state, event.error) == ("processed", "")
    assert set(Call.objects.values_list("minivoice_id", flat=True)) == {
        "call_f",
        "call_g",
        "call_p",
    }


@pytest.mark.django_db
def test_replay_leaves_done_events_alone_and_says_so(replay):
    processed = stored_event(WebhookEvent.State.PROCESSED, attempts=1)
    malformed = stored_event(WebhookEvent.State.MALFORMED, payload=None)

    result = replay(WebhookEvent.objects.all())

    assert result.sent == []
    assert result.already_done == 2
    processed.refresh_from_db()
    malformed.refresh_from_db()
    assert (processed.state, processed.attempts) == ("processed", 1)
    assert malformed.state == "malformed"


@pytest.mark.django_db
def test_replay_of_an_event_that_fails_again_keeps_the_new_error(replay, monkeypatch):
    event = stored_event(WebhookEvent.State.GAVE_UP, attempts=30, error="old error")
    monkeypatch.setattr(processing, "event_apply", _raise_boom)

    result = replay(WebhookEvent.objects.filter(pk=event.pk))

    assert result.sent == [event.pk]
    event.refresh_from_db()
    assert event.attempts == 31
    assert "boom" in event.error
    assert event.state in (WebhookEvent.State.FAILED, WebhookEvent.State.GAVE_UP)


@pytest.mark.django_db
def test_replay_twice_changes_nothing_more_than_once(replay):
    event = stored_event(WebhookEvent.State.FAILED, attempts=1, error="x")

    replay(WebhookEvent.objects.all())
    call = Call.objects.get()
    again = replay(WebhookEvent.objects.all())

    assert again.sent == []
    assert again.already_done == 1
    event.refresh_from_db()
    assert (event.state, event.attempts) == ("processed", 2)
    assert Call.objects.get().updated_at == call.updated_at


@pytest.mark.django_db(transaction=True)
def test_replay_counts_as_done_only_what_was_done_before_it():
    # In-process mode processes the replayed events before events_replay returns.
    stored_event(WebhookEvent.State.FAILED, call_id="call_f", attempts=1, error="x")
    stored_event(WebhookEvent.State.PROCESSED, call_id="call_p", attempts=1)

    result = events_replay(events=WebhookEvent.objects.all())

    assert (len(result.sent), result.already_done) == (1, 1)
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"processed"}


@pytest.mark.django_db
def test_a_dry_run_replay_says_what_it_would_send_and_changes_nothing():
    failed = stored_event(WebhookEvent.State.FAILED, call_id="call_f", attempts=1, error="x")
    stored_event(WebhookEvent.State.PROCESSED, call_id="call_p", attempts=1)

    plan = events_replay(events=WebhookEvent.objects.all(), dry_run=True)

    assert (plan.sent, plan.already_done) == ([failed.pk], 1)
    failed.refresh_from_db()
    assert (failed.state, failed.error) == ("failed", "x")
    assert not Call.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_replay_sends_in_batches_oldest_first_and_tells_each_batch():
    start = timezone.now() - timedelta(minutes=10)
    events = [
        stored_event(
            WebhookEvent.State.GAVE_UP,
            call_id=f"call_{n}",
            received_at=start + timedelta(seconds=-n),
        )
        for n in range(5)
    ]
    told = []

    result = events_replay(events=WebhookEvent.objects.all(), batch_size=2, on_batch=told.append)

    assert told == [2, 2, 1]
    assert result.sent == [event.pk for event in reversed(events)]
    assert result.states_now() == {"processed": 5}
