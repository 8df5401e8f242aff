"""Workers take pending events from the table (calls.processing.batch.events_drain), woken by a
flag in Redis rather than one Celery message per delivery (calls.dispatch)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import dispatch
from calls.dispatch import WAKE_FLAG
from calls.models import Call, WebhookEvent
from calls.processing import batch as processing
from calls.processing.batch import events_drain
from conftest import minivoice_event
from recordings.models import Recording


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

    assert events_drain(idle=0) == 3

    assert set(WebhookEvent.objects.values_list("state", "attempts")) == {("processed", 1)}
    assert Call.objects.count() == 3
    assert events_drain(idle=0) == 0  # nothing left, nothing done twice


@pytest.mark.django_db
def test_a_failing_event_is_scheduled_for_retry_and_the_drain_goes_on(monkeypatch):
    first, broken, last = pending("call_1", "call_broken", "call_3")
    apply = processing.event_apply

    def apply_unless_broken(event, call, **kwargs):
        if event.call_minivoice_id == "call_broken":
            raise RuntimeError("boom")
        apply(event, call, **kwargs)

    monkeypatch.setattr(processing, "event_apply", apply_unless_broken)

    assert events_drain(idle=0) == 3

    states = dict(WebhookEvent.objects.values_list("pk", "state"))
    assert states == {first: "processed", broken: "failed", last: "processed"}
    failed = WebhookEvent.objects.get(pk=broken)
    assert "boom" in failed.error
    assert failed.next_attempt_at is not None
    assert not Call.objects.filter(minivoice_id="call_broken").exists()  # undone whole


def worker_dies_on(call_id: str, monkeypatch) -> None:
    """The worker is killed while it applies the event of `call_id`."""
    apply = processing.event_apply

    def apply_or_die(event, call, **kwargs):
        if event.call_minivoice_id == call_id:
            raise SystemExit("worker killed")  # not an Exception: nothing records it
        apply(event, call, **kwargs)

    monkeypatch.setattr(processing, "event_apply", apply_or_die)


@pytest.mark.django_db
def test_a_worker_dying_mid_batch_leaves_the_whole_batch_pending_for_the_next(monkeypatch):
    pending("call_1", "call_dies", "call_3")
    worker_dies_on("call_dies", monkeypatch)
    with pytest.raises(SystemExit):
        events_drain(idle=0)

    # The batch was one transaction: what it applied before dying is undone with it.
    assert set(WebhookEvent.objects.values_list("state", "attempts")) == {("pending", 0)}
    assert not Call.objects.exists()

    monkeypatch.undo()
    assert events_drain(idle=0) == 3  # the next drain takes what the dead one left
    assert set(WebhookEvent.objects.values_list("state", "attempts")) == {("processed", 1)}


@pytest.mark.django_db
def test_a_worker_dying_between_batches_keeps_what_the_earlier_batches_committed(
    monkeypatch,
):
    first, second, dying, last = pending("call_1", "call_2", "call_dies", "call_4")
    worker_dies_on("call_dies", monkeypatch)
    with pytest.raises(SystemExit):
        events_drain(batch_size=2, idle=0)

    states = dict(WebhookEvent.objects.values_list("pk", "state"))
    assert states == {first: "processed", second: "processed", dying: "pending", last: "pending"}


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


# -- Batches ------------------------------------------------------------------------------


def stored(event_type: str, call_id: str, second: int, **data) -> WebhookEvent:
    payload = minivoice_event(
        event_type, call_id=call_id, created_at=f"2026-05-29T12:00:{second:02d}Z", **data
    )
    return WebhookEvent.objects.create(
        webhook_id=f"msg_{call_id}_{event_type}_{second}",
        event_type=event_type,
        call_minivoice_id=call_id,
        raw_body="{}",
        payload=payload,
    )


@pytest.mark.django_db
def test_a_calls_events_in_one_batch_cost_what_one_of_them_costs():
    # Each call is read, locked and written once per batch, whatever its number of events.
    stored("call.initiated", "call_alone", 1)
    with CaptureQueriesContext(connection) as one_event:
        assert events_drain(idle=0) == 1
    for second, event_type in enumerate(["call.initiated", "call.ringing", "call.answered"]):
        stored(event_type, "call_busy", second)

    with CaptureQueriesContext(connection) as three_events:
        assert events_drain(idle=0) == 3

    assert len(three_events) == len(one_event)
    call = Call.objects.get(minivoice_id="call_busy")
    assert (call.status, call.last_step) == ("in_progress", "Answered")


@pytest.mark.django_db
def test_a_recording_started_and_completed_in_one_batch_ends_completed():
    stored("recording.completed", "call_1", 40, recording_id="rec_1", duration_seconds=20)
    stored("recording.started", "call_1", 12, recording_id="rec_1")  # queued after

    assert events_drain(idle=0) == 2

    recording = Recording.objects.get()
    assert (recording.minivoice_id, recording.status, recording.duration_seconds) == (
        "rec_1",
        "completed",
        20,
    )
    assert recording.call.minivoice_id == "call_1"


@pytest.mark.django_db
def test_a_recordings_events_in_one_batch_write_it_once():
    stored("recording.started", "call_1", 12, recording_id="rec_1")
    with CaptureQueriesContext(connection) as one_event:
        assert events_drain(idle=0) == 1
    stored("recording.started", "call_2", 12, recording_id="rec_2")
    stored("recording.completed", "call_2", 40, recording_id="rec_2", duration_seconds=20)

    with CaptureQueriesContext(connection) as two_events:
        assert events_drain(idle=0) == 2

    assert len(two_events) == len(one_event)
    assert Recording.objects.get(minivoice_id="rec_2").status == "completed"


def reads(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured if query["sql"].startswith("SELECT")]


@pytest.mark.django_db
def test_a_batch_reads_the_logs_of_its_ending_calls_together():
    # Each end's step is worked out again from the call's log; one read for the batch.
    stored("call.answered", "call_1", 10)
    stored("call.completed", "call_1", 20, status="completed", duration_seconds=10)
    with CaptureQueriesContext(connection) as one_end:
        assert events_drain(idle=0) == 2
    for call_id in ("call_2", "call_3", "call_4"):
        stored("call.answered", call_id, 10)
        stored("call.completed", call_id, 20, status="completed", duration_seconds=10)

    with CaptureQueriesContext(connection) as three_ends:
        assert events_drain(idle=0) == 6

    # Each call is still written once, and its problems stored: only the reads are shared.
    assert len(reads(three_ends)) == len(reads(one_end))
    steps = set(Call.objects.exclude(minivoice_id="call_1").values_list("last_step", flat=True))
    assert steps == {Call.objects.get(minivoice_id="call_1").last_step}
    assert steps.pop().startswith("Call ended (completed) after: Answered")


@pytest.mark.django_db
def test_each_call_of_a_batch_is_checked_for_problems_once(monkeypatch):
    checked = []
    real_refresh = processing.calls_problems_refresh

    def counting_refresh(*, calls, **kwargs):
        checked.append(sorted(call.minivoice_id for call in calls))
        return real_refresh(calls=calls, **kwargs)

    monkeypatch.setattr(processing, "calls_problems_refresh", counting_refresh)
    for call_id in ("call_b", "call_a"):
        for second, event_type in enumerate(["call.initiated", "call.ringing"]):
            stored(event_type, call_id, second)

    assert events_drain(idle=0) == 4

    assert checked == [["call_a", "call_b"]]


@pytest.mark.django_db
def test_a_failing_check_is_logged_and_never_undoes_the_batch(monkeypatch, caplog):
    def broken_refresh(**kwargs):
        raise RuntimeError("check bug")

    monkeypatch.setattr(processing, "calls_problems_refresh", broken_refresh)
    stored("call.ringing", "call_1", 3)

    assert events_drain(idle=0) == 1

    assert WebhookEvent.objects.get().state == "processed"
    assert Call.objects.get().status == "ringing"
    assert "Checking calls call_1 for problems failed" in caplog.text


@pytest.mark.django_db
def test_after_a_batch_that_was_not_full_a_drain_waits_and_takes_what_arrived(monkeypatch):
    stored("call.initiated", "call_1", 1)
    waits = []

    def a_delivery_arrives_while_waiting(seconds):
        waits.append(seconds)
        if len(waits) == 1:
            stored("call.ringing", "call_1", 2)

    monkeypatch.setattr(processing.time, "sleep", a_delivery_arrives_while_waiting)

    assert events_drain(linger=0.25, idle=0) == 2

    assert waits == [0.25, 0.25]  # after each short batch; the empty look ends the drain
    assert Call.objects.get().status == "ringing"


@pytest.mark.django_db
def test_a_drain_looks_until_nothing_has_come_for_its_idle_time(monkeypatch):
    # What lets a process skip waking the workers again for a while (calls.dispatch).
    clock = [1000.0]
    found_late_at = []

    def sleep(seconds):
        clock[0] += seconds
        if round(clock[0] - 1000.0, 3) == 0.5:
            stored("call.ringing", "call_1", 2)
            found_late_at.append(round(clock[0], 3))

    monkeypatch.setattr(processing.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(processing.time, "sleep", sleep)
    stored("call.initiated", "call_1", 1)

    assert events_drain(linger=0.1, idle=1.0) == 2

    assert found_late_at == [1000.5]
    # The late event was taken at the next look; the drain ended after a full second
    # with nothing more.
    assert 1.0 <= clock[0] - 1000.5 < 1.1
    assert dispatch.DRAIN_IDLE_SECONDS > dispatch.WAKE_AGAIN_AFTER_SECONDS


def test_a_process_that_just_woke_the_workers_does_not_wake_them_again(
    use_broker, own_redis, monkeypatch
):
    use_broker(own_redis.url)
    clock = [50.0]
    monkeypatch.setattr(dispatch.time, "monotonic", lambda: clock[0])

    assert dispatch.wake_workers()
    own_redis.command("DEL", WAKE_FLAG)  # a drain started, and is looking at the table
    clock[0] += dispatch.WAKE_AGAIN_AFTER_SECONDS / 2
    assert dispatch.wake_workers()  # that drain will see this one: no round trip to Redis

    assert own_redis.command("EXISTS", WAKE_FLAG) == ":0"
    assert own_redis.command("LLEN", "celery") == ":1"

    clock[0] += dispatch.WAKE_AGAIN_AFTER_SECONDS
    assert dispatch.wake_workers()  # that drain may have stopped looking: wake again

    assert own_redis.command("LLEN", "celery") == ":2"
    assert dispatch.wake_workers(force=True)  # the sweep's wake-up is never skipped
    assert own_redis.command("LLEN", "celery") == ":3"
