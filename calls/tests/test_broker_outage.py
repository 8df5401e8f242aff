"""Intake and processing when the broker is down, silent or restarted.

Each test points the app at a broker of its own on a free loopback port (a Redis it
starts, or a listener that accepts and never answers), never at the machine's Redis, and
sends real deliveries through the real URL. What must hold: MiniVoice gets its 2xx at
once whatever the broker does, the event is kept, one log line says why it waits, and
the sweep or a retry takes it later.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from calls import tasks
from calls.models import Call, WebhookEvent
from calls.processing.batch import events_drain
from calls.processing.handover import events_requeue_due
from conftest import minivoice_event
from minivoice_site.celery import app as celery_app


def _deliver_within(post_webhook, payload: dict, *, seconds: float):
    """Post a delivery in a thread: a hang fails the test instead of freezing the suite."""
    answers = []

    def deliver() -> None:
        try:
            answers.append(post_webhook(payload))
        finally:
            connection.close()  # this thread's own; left open it blocks the test DB's drop

    thread = threading.Thread(target=deliver, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(timeout=seconds)
    assert answers, f"no answer within {seconds} s: intake is waiting on the broker"
    return answers[0], time.monotonic() - started


# -- Intake --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_silent_broker_costs_intake_a_moment_and_one_log_line(
    post_webhook, use_broker, silent_broker, caplog
):
    use_broker(silent_broker)
    caplog.set_level(logging.INFO)

    response, waited = _deliver_within(post_webhook, minivoice_event(), seconds=10)

    assert response.status_code == 202
    # Bounded by BROKER_PUBLISH_TIMEOUT_MS (300 ms); before, the send hung for good.
    assert waited < 5
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PENDING  # kept for the sweep
    warnings = [record for record in caplog.records if record.name == "calls.dispatch"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert str(event.pk) in warnings[0].getMessage()
    assert not any(record.exc_info for record in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_deliveries_while_the_broker_is_down_are_processed_once_it_is_back(
    post_webhook, use_broker, own_redis, caplog
):
    use_broker(own_redis.url)
    own_redis.stop()
    caplog.set_level(logging.INFO)

    for number in range(3):
        response, _ = _deliver_within(
            post_webhook, minivoice_event("call.ringing", call_id=f"call_{number}"), seconds=10
        )
        assert response.status_code == 202

    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"pending"}
    assert len([r for r in caplog.records if r.name == "calls.dispatch"]) == 3
    assert not any(record.exc_info for record in caplog.records)

    own_redis.start()
    WebhookEvent.objects.update(queued_at=timezone.now() - tasks.PENDING_TOO_LONG * 2)
    assert events_requeue_due(pending_for=tasks.PENDING_TOO_LONG) == 3
    # The sweep's wake-up reached the broker that is back: one drain task for all three.
    assert own_redis.command("LLEN", "celery") == ":1"
    assert events_drain() == 3  # what the worker runs when it takes that task
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"processed"}
    assert Call.objects.count() == 3


# -- Processing failures -------------------------------------------------------------------


def _processing_fails(monkeypatch) -> None:
    def boom(event, call, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr("calls.processing.batch.event_apply", boom)


@pytest.mark.django_db(transaction=True)
def test_a_failed_event_leaves_no_retry_waiting_in_the_broker(monkeypatch, use_broker, own_redis):
    """A retry kept in the broker (a countdown) is lost with a dead worker or a broker
    outage; the next try must be scheduled in the row instead."""
    use_broker(own_redis.url)
    event = WebhookEvent.objects.create(
        webhook_id="msg_fails",
        event_type="call.ringing",
        call_minivoice_id="call_1",
        raw_body="{}",
        payload=minivoice_event("call.ringing", call_id="call_1"),
    )
    _processing_fails(monkeypatch)

    # Run the task's body as a worker does (not in-process mode).
    task = tasks.process_webhook_event
    task.push_request(is_eager=False, retries=0, id="task-1", delivery_info={})
    try:
        task.run(event.pk)
    finally:
        task.pop_request()

    event.refresh_from_db()
    assert (event.state, event.attempts) == (WebhookEvent.State.FAILED, 1)
    assert "database hiccup" in event.error
    assert event.next_attempt_at > timezone.now()
    assert own_redis.command("DBSIZE") == ":0"  # nothing left waiting in Redis


@pytest.mark.django_db(transaction=True)
def test_processing_that_fails_while_the_broker_is_down_is_retried_when_due(
    post_webhook, monkeypatch, use_broker, own_redis
):
    _processing_fails(monkeypatch)
    own_redis.stop()
    use_broker(own_redis.url)
    response, _ = _deliver_within(post_webhook, minivoice_event("call.ringing"), seconds=10)
    assert response.status_code == 202
    # What a worker would do with it: processing fails, and the broker is still down.
    tasks.process_webhook_event.apply(args=[WebhookEvent.objects.get().pk])
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.FAILED
    assert event.next_attempt_at is not None

    monkeypatch.undo()
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True  # the sweep's worker runs in-process
    assert events_requeue_due(pending_for=tasks.PENDING_TOO_LONG) == 0  # not due yet
    WebhookEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert events_requeue_due(pending_for=tasks.PENDING_TOO_LONG) == 1

    event.refresh_from_db()
    assert (event.state, event.attempts, event.error) == ("processed", 2, "")
    assert Call.objects.get().status == Call.Status.RINGING
