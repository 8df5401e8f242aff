"""`manage.py prune_events`: old logs go in batches; calls and recordings keep their story."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from calls.models import AnswerExchange, Call, WebhookEvent
from calls.operations import logs_prune
from conftest import minivoice_event
from recordings.models import Recording

pytestmark = pytest.mark.django_db(transaction=True)

OLD = timedelta(days=100)


@pytest.fixture
def ended_call_with_a_recording():
    call = Call.objects.create(
        minivoice_id="call_old",
        status=Call.Status.ENDED,
        final_status=Call.FinalStatus.COMPLETED,
        duration_seconds=42,
        last_step="Recording started",
    )
    Recording.objects.create(
        call=call, minivoice_id="rec_old", status=Recording.Status.COMPLETED, duration_seconds=30
    )
    return call


def event(*, age: timedelta, state: str = "processed", call_id: str = "call_old"):
    count = WebhookEvent.objects.count()
    return WebhookEvent.objects.create(
        webhook_id=f"msg_{count}",
        event_type="call.answered",
        call_minivoice_id=call_id,
        raw_body="{}",
        payload=minivoice_event("call.answered", call_id=call_id),
        state=state,
        received_at=timezone.now() - age,
    )


def exchange(*, age: timedelta, call: Call | None = None):
    return AnswerExchange.objects.create(
        call=call,
        call_minivoice_id=call.minivoice_id if call else "",
        received_at=timezone.now() - age,
        method="POST",
        response_status=200,
        response_body='{"actions": [{"hangup": {}}]}',
        duration_ms=1.0,
    )


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_events", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_old_logs_go_and_recent_ones_stay(ended_call_with_a_recording):
    call = ended_call_with_a_recording
    old_event, recent_event = event(age=OLD), event(age=timedelta(days=10))
    old_exchange, recent_exchange = exchange(age=OLD, call=call), exchange(age=timedelta(days=1))

    output = prune("--older-than", "90d")

    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {recent_event.pk}
    assert set(AnswerExchange.objects.values_list("pk", flat=True)) == {recent_exchange.pk}
    assert not WebhookEvent.objects.filter(pk=old_event.pk).exists()
    assert not AnswerExchange.objects.filter(pk=old_exchange.pk).exists()
    assert "Deleted 1 webhook event(s) and 1 answer_url exchange(s)" in output


def test_calls_and_recordings_keep_their_summaries(ended_call_with_a_recording):
    event(age=OLD)
    exchange(age=OLD, call=ended_call_with_a_recording)

    prune("--older-than", "90d")

    call = Call.objects.get()
    assert (call.final_status, call.duration_seconds, call.last_step) == (
        "completed",
        42,
        "Recording started",
    )
    recording = Recording.objects.get()
    assert (recording.status, recording.duration_seconds) == ("completed", 30)


def test_old_events_still_waiting_for_work_are_kept():
    pending = event(age=OLD, state="pending")
    failed = event(age=OLD, state="failed")
    event(age=OLD, state="gave_up")
    event(age=OLD, state="malformed")

    prune("--older-than", "90d")

    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {pending.pk, failed.pk}


def test_batches_smaller_than_the_work_delete_everything_due():
    for _ in range(7):
        event(age=OLD)
        exchange(age=OLD)

    output = prune("--older-than", "90d", "--batch-size", "3")

    assert not WebhookEvent.objects.exists()
    assert not AnswerExchange.objects.exists()
    assert "Deleted 7 webhook event(s) and 7 answer_url exchange(s)" in output


def test_hours_are_a_length_of_time_too():
    event(age=timedelta(hours=13))
    kept = event(age=timedelta(hours=11))

    prune("--older-than", "12h")

    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [kept.pk]


def test_dry_run_counts_and_deletes_nothing():
    event(age=OLD)
    exchange(age=OLD)

    output = prune("--older-than", "90d", "--dry-run")

    assert "Would delete 1 webhook event(s) and 1 answer_url exchange(s)" in output
    assert (WebhookEvent.objects.count(), AnswerExchange.objects.count()) == (1, 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: --older-than"),
        (["--older-than", "90"], "--older-than takes a length of time"),
        (["--older-than", "0d"], "--older-than takes a length of time"),
        (["--older-than=-5d"], "--older-than takes a length of time"),
        (["--older-than", "3y"], "--older-than takes a length of time"),
        (["--older-than", "9999999d"], "--older-than takes a length of time"),
        (["--older-than", "90d", "--batch-size", "0"], "--batch-size must be from 1"),
    ],
    ids=["missing", "no-unit", "zero", "negative", "years", "huge", "batch-zero"],
)
def test_bad_arguments_are_refused_and_nothing_is_deleted(args, message):
    event(age=OLD)

    with pytest.raises(CommandError, match=message):
        prune(*args)

    assert WebhookEvent.objects.count() == 1


def events_newest_first(ages_and_states):
    """Events created newest first, so their ids run against received_at (as after a
    bulk import or a restore), each (age, state)."""
    ordered = sorted(ages_and_states, key=lambda pair: pair[0])
    return [event(age=age, state=state) for age, state in ordered]


def test_ids_against_time_prune_exactly_what_is_due_and_keep_the_rest():
    # Kept states among the old rows, three old rows sharing one time, and batches of
    # two, so a batch ends in the middle of rows of the same time.
    recent, almost, pending, *old, failed = events_newest_first(
        [(timedelta(days=10), "processed"), (timedelta(days=89), "processed")]
        + [(timedelta(days=95), "pending"), (timedelta(days=130), "failed")]
        + [(OLD + timedelta(days=d), "processed") for d in range(5)]
    )
    WebhookEvent.objects.filter(pk__in=[e.pk for e in old[2:]]).update(
        received_at=timezone.now() - timedelta(days=120)
    )

    output = prune("--older-than", "90d", "--batch-size", "2")

    kept = {recent.pk, almost.pk, pending.pk, failed.pk}
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == kept
    assert "Deleted 5 webhook event(s)" in output


def test_each_batch_takes_the_oldest_left_even_when_ids_run_against_time():
    # Proves batches are picked by received_at, not by id: an interrupted prune has
    # removed everything before some time and nothing after it, whatever the ids.
    made = events_newest_first([(OLD + timedelta(days=d), "processed") for d in range(6)])
    oldest_two = {e.pk for e in made[-2:]}

    def stop_after_the_first_batch(count):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        logs_prune(
            before=timezone.now() - timedelta(days=90),
            batch_size=2,
            on_batch=stop_after_the_first_batch,
        )

    left = set(WebhookEvent.objects.values_list("pk", flat=True))
    assert left == {e.pk for e in made} - oldest_two
