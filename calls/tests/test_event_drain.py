"""Workers take pending events from the table (calls.services.events_drain), woken by a
flag in Redis rather than one Celery message per delivery (calls.dispatch)."""

from __future__ import annotations

import pytest

from calls import services
from calls.dispatch import WAKE_FLAG
from calls.models import Call, WebhookEvent
from calls.services import events_drain
from conftest import minivoice_event


def pending(*call_ids: str) -> list[int]:
    return [
        WebhookEvent.objects.create(
            webhook_id=f"msg_{call_id}",
            event_type="call.ringing",
            call_minivoice_id=call_id,
            raw_body="{}",
            payload=minivoice_event("call.ringing", call_id=call_id),
        ).pk
        for call_id in call_ids
    ]


@pytest.mark.django_db
def test_a_drain_processes_every_pending_event_once():
    pending("call_1", "call_2", "call_3")

    assert events_drain() == 3

    assert set(WebhookEvent.objects.values_list("state", "attempts")) == {("processed", 1)}
    assert Call.objects.count() == 3
    assert events_drain() == 0  # nothing left, nothing done twice


@pytest.mark.django_db
def test_a_failing_event_is_scheduled_for_retry_and_the_drain_goes_on(monkeypatch):
    first, broken, last = pending("call_1", "call_broken", "call_3")
    apply = services._apply_event

    def apply_unless_broken(event):
        if event.call_minivoice_id == "call_broken":
            raise RuntimeError("boom")
        apply(event)

    monkeypatch.setattr(services, "_apply_event", apply_unless_broken)

    assert events_drain() == 3

    states = dict(WebhookEvent.objects.values_list("pk", "state"))
    assert states == {first: "processed", broken: "failed", last: "processed"}
    failed = WebhookEvent.objects.get(pk=broken)
    assert "boom" in failed.error
    assert failed.next_attempt_at is not None
    assert not Call.objects.filter(minivoice_id="call_broken").exists()  # undone whole


@pytest.mark.django_db
def test_a_worker_dying_mid_drain_leaves_the_rest_pending_for_the_next(monkeypatch):
    first, dying, last = pending("call_1", "call_dies", "call_3")
    apply = services._apply_event

    def die_on_the_second(event):
        if event.call_minivoice_id == "call_dies":
            raise SystemExit("worker killed")  # not an Exception: nothing records it
        apply(event)

    monkeypatch.setattr(services, "_apply_event", die_on_the_second)
    with pytest.raises(SystemExit):
        events_drain()

    states = dict(WebhookEvent.objects.values_list("pk", "state"))
    assert states == {first: "processed", dying: "pending", last: "pending"}
    assert not Call.objects.filter(minivoice_id="call_dies").exists()

    monkeypatch.undo()
    assert events_drain() == 2  # the next drain takes what the dead one left
    assert set(WebhookEvent.objects.values_list("state", "attempts")) == {("processed", 1)}


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_deliveries_wakes_one_drain_and_a_later_one_wakes_another(
    post_webhook, use_broker, own_redis
):
    use_broker(own_redis.url)

    for number in range(5):
        delivery = minivoice_event("call.ringing", call_id=f"call_{number}")
        assert post_webhook(delivery).status_code == 202

    # One Celery message for the burst, not five: the flag says a drain is on its way.
    assert own_redis.command("LLEN", "celery") == ":1"
    assert own_redis.command("EXISTS", WAKE_FLAG) == ":1"

    assert events_drain() == 5  # the worker's drain clears the flag before it looks
    assert own_redis.command("EXISTS", WAKE_FLAG) == ":0"

    assert post_webhook(minivoice_event("call.ringing", call_id="late")).status_code == 202
    assert own_redis.command("LLEN", "celery") == ":2"  # a delivery after the look wakes again
    assert events_drain() == 1
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"processed"}
