"""The beat sweep (calls.tasks.requeue_due_events): no stored event waits for good.

An event stays pending when its task was lost: the broker was down at intake, or a worker
died before taking it. Here a delivery is left pending by posting it without running the
callbacks queued on commit (the test's transaction never commits), as if its task never
reached a worker; the sweep then processes it (tasks run in-process in tests).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from calls import dispatch, tasks
from calls.models import Call, WebhookEvent
from calls.processing import handlers
from calls.processing.handover import events_requeue_due
from calls.tasks import PENDING_TOO_LONG, requeue_due_events
from conftest import WEBHOOK_URL, minivoice_event, signed
from minivoice_site.celery import app as celery_app
from recordings.models import Recording

OLD = timedelta(minutes=2)


@pytest.fixture
def deliver_lost(client):
    """Deliver a signed event whose processing task is lost: it stays pending."""

    def send(event_type: str = "call.answered", *, call_id: str = "call_123", **data) -> int:
        webhook_id = f"msg_{uuid.uuid4().hex}"
        body = json.dumps(minivoice_event(event_type, call_id=call_id, **data)).encode()
        response = client.post(
            WEBHOOK_URL,
            data=body,
            content_type="application/json",
            **signed(body, webhook_id=webhook_id),
        )
        assert response.status_code == 202, response.content
        event = WebhookEvent.objects.get(webhook_id=webhook_id)
        assert event.state == WebhookEvent.State.PENDING
        return event.pk

    return send


def age(*event_ids: int, by: timedelta) -> None:
    """Make these events look received, and last handed to a worker, `by` ago."""
    then = timezone.now() - by
    WebhookEvent.objects.filter(pk__in=event_ids).update(received_at=then, queued_at=then)


def stored(state: str, **fields) -> int:
    """An event row in `state`, made directly."""
    row = {
        "webhook_id": f"msg_{uuid.uuid4().hex}",
        "event_type": "call.answered",
        "call_minivoice_id": "call_stored",
        "raw_body": "{}",
        "payload": minivoice_event("call.answered", call_id="call_stored"),
        "state": state,
        **fields,
    }
    return WebhookEvent.objects.create(**row).pk


def states() -> dict[int, str]:
    return dict(WebhookEvent.objects.values_list("pk", "state"))


# -- The sweep ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pending_event_older_than_the_cutoff_is_requeued_and_processed(deliver_lost):
    event_id = deliver_lost("call.answered")
    age(event_id, by=timedelta(minutes=5))
    assert not Call.objects.exists()  # its task was lost

    count = events_requeue_due(pending_for=OLD)

    assert count == 1
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED, event.error
    assert event.attempts == 1
    assert event.processed_at is not None
    call = Call.objects.get()
    assert call.minivoice_id == "call_123"
    assert call.status == Call.Status.IN_PROGRESS


@pytest.mark.django_db
def test_fresh_pending_event_is_left_for_its_own_task(deliver_lost):
    fresh = deliver_lost("call.answered")
    just_young = deliver_lost("call.ringing", call_id="call_456")
    age(just_young, by=OLD - timedelta(seconds=5))

    count = events_requeue_due(pending_for=OLD)

    assert count == 0
    assert states() == {fresh: "pending", just_young: "pending"}
    assert WebhookEvent.objects.get(pk=fresh).attempts == 0
    assert not Call.objects.exists()


@pytest.mark.django_db
def test_only_pending_events_and_failed_events_due_for_retry_are_requeued(deliver_lost):
    pending = deliver_lost("call.answered")
    now = timezone.now()
    failed_due = stored(
        WebhookEvent.State.FAILED,
        attempts=1,
        error="Traceback: boom",
        call_minivoice_id="call_due",
        payload=minivoice_event("call.answered", call_id="call_due"),
        next_attempt_at=now - timedelta(seconds=1),
    )
    left_alone = {
        "processed": stored(WebhookEvent.State.PROCESSED, attempts=1),
        "ignored": stored(WebhookEvent.State.IGNORED, attempts=1),
        "malformed": stored(WebhookEvent.State.MALFORMED, payload=None, event_type=""),
        "failed": stored(
            WebhookEvent.State.FAILED,
            attempts=1,
            error="Traceback: not yet",
            next_attempt_at=now + timedelta(minutes=5),
        ),
        # Given up: only a person's replay takes it again.
        "gave_up": stored(WebhookEvent.State.GAVE_UP, attempts=30, error="Traceback: old"),
    }
    age(pending, failed_due, *left_alone.values(), by=timedelta(hours=1))

    count = events_requeue_due(pending_for=OLD)

    assert count == 2
    assert states() == {
        pending: "processed",
        failed_due: "processed",
        **{pk: state for state, pk in left_alone.items()},
    }
    assert WebhookEvent.objects.get(pk=left_alone["failed"]).error == "Traceback: not yet"
    assert sorted(Call.objects.values_list("minivoice_id", flat=True)) == ["call_123", "call_due"]


@pytest.mark.django_db
def test_limit_requeues_the_oldest_pending_events_first(deliver_lost):
    oldest = deliver_lost("call.answered", call_id="call_1")
    older = deliver_lost("call.answered", call_id="call_2")
    old = deliver_lost("call.answered", call_id="call_3")
    age(oldest, by=timedelta(minutes=30))
    age(older, by=timedelta(minutes=20))
    age(old, by=timedelta(minutes=10))

    first = events_requeue_due(pending_for=OLD, limit=2)

    assert first == 2
    assert states() == {oldest: "processed", older: "processed", old: "pending"}
    assert sorted(Call.objects.values_list("minivoice_id", flat=True)) == ["call_1", "call_2"]

    second = events_requeue_due(pending_for=OLD, limit=2)

    assert second == 1
    assert set(states().values()) == {"processed"}
    assert events_requeue_due(pending_for=OLD, limit=2) == 0


@pytest.mark.django_db
def test_nothing_pending_requeues_nothing():
    assert events_requeue_due(pending_for=OLD) == 0
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_requeued_event_that_fails_again_is_kept_failed_until_its_retry_is_due(
    deliver_lost, monkeypatch
):
    event_id = deliver_lost("recording.started", recording_id="rec_1")
    age(event_id, by=timedelta(minutes=5))

    def boom(*args):
        raise RuntimeError("still broken")

    monkeypatch.setitem(handlers.HANDLERS, "recording.started", boom)

    count = events_requeue_due(pending_for=OLD)

    assert count == 1
    event = WebhookEvent.objects.get()
    assert (event.state, event.attempts) == (WebhookEvent.State.FAILED, 1)
    assert "still broken" in event.error
    assert not Recording.objects.exists()
    # Its next try is scheduled with back-off: the next sweep leaves it until then.
    assert event.next_attempt_at > timezone.now()
    assert events_requeue_due(pending_for=OLD) == 0
    WebhookEvent.objects.filter(pk=event_id).update(next_attempt_at=timezone.now())
    monkeypatch.undo()
    assert events_requeue_due(pending_for=OLD) == 1
    event.refresh_from_db()
    assert (event.state, event.attempts, event.error) == ("processed", 2, "")
    assert Recording.objects.get().status == Recording.Status.STARTED


@pytest.mark.django_db
def test_event_requeued_twice_is_processed_once(deliver_lost):
    # A slow task and the sweep may both run: processing is idempotent.
    event_id = deliver_lost("call.answered")
    age(event_id, by=timedelta(minutes=5))
    events_requeue_due(pending_for=OLD)
    event = WebhookEvent.objects.get()

    tasks.process_webhook_event.apply(args=[event_id])

    processed_at = event.processed_at
    event.refresh_from_db()
    assert (event.state, event.attempts, event.processed_at) == ("processed", 1, processed_at)


# -- The task and its schedule ----------------------------------------------------------------


@pytest.mark.django_db
def test_requeue_task_returns_how_many_events_it_requeued(deliver_lost):
    stale = [deliver_lost("call.answered", call_id=f"call_{n}") for n in range(3)]
    fresh = deliver_lost("call.answered", call_id="call_fresh")
    age(*stale, by=PENDING_TOO_LONG + timedelta(seconds=30))

    result = requeue_due_events.apply()

    assert result.successful()
    assert result.get() == 3
    assert states() == {
        **dict.fromkeys(stale, "processed"),
        fresh: "pending",
    }
    assert requeue_due_events.apply().get() == 0


def test_beat_runs_the_requeue_task_more_often_than_events_count_as_lost():
    entries = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "calls.tasks.requeue_due_events"
    ]

    assert len(entries) == 1
    assert requeue_due_events.name == "calls.tasks.requeue_due_events"
    assert "calls.tasks.requeue_due_events" in celery_app.tasks
    assert timedelta(seconds=entries[0]["schedule"]) <= PENDING_TOO_LONG


@pytest.mark.django_db
def test_an_event_still_waiting_is_sent_again_only_once_per_cutoff(deliver_lost, monkeypatch):
    """A broker backlog must not be flooded: each sweep skips events it sent recently."""
    sent = []
    monkeypatch.setattr(dispatch, "send_events", lambda ids, **options: sent.extend(ids))
    event_id = deliver_lost()
    age(event_id, by=OLD + timedelta(seconds=1))

    assert events_requeue_due(pending_for=OLD) == 1
    assert events_requeue_due(pending_for=OLD) == 0
    age(event_id, by=OLD + timedelta(seconds=1))
    assert events_requeue_due(pending_for=OLD) == 1

    assert sent == [event_id, event_id]
    assert WebhookEvent.objects.get(pk=event_id).state == WebhookEvent.State.PENDING
