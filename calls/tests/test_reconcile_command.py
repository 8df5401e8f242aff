"""`manage.py reconcile`: stuck and due events go to a worker again, as beat's sweep does."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from calls.models import Call, CallProblem, WebhookEvent
from conftest import minivoice_event
from recordings.models import Recording

pytestmark = pytest.mark.django_db


def stored(state: str, *, queued_ago: timedelta, next_attempt_in: timedelta | None = None):
    count = WebhookEvent.objects.count()
    call_id = f"call_{count}"
    return WebhookEvent.objects.create(
        webhook_id=f"msg_{count}",
        event_type="call.answered",
        call_minivoice_id=call_id,
        raw_body="{}",
        payload=minivoice_event("call.answered", call_id=call_id),
        state=state,
        queued_at=timezone.now() - queued_ago,
        next_attempt_at=timezone.now() + next_attempt_in if next_attempt_in else None,
    )


def reconcile(*args: str) -> str:
    out = StringIO()
    call_command("reconcile", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_event_pending_past_the_cutoff_is_processed_and_a_fresh_one_is_left():
    stuck = stored("pending", queued_ago=timedelta(minutes=10))
    fresh = stored("pending", queued_ago=timedelta(seconds=30))

    output = reconcile("--older-than", "5")

    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert (stuck.state, fresh.state) == ("processed", "pending")
    assert "Handed 1 stuck or due event(s) to a worker;" in output


def test_failed_event_whose_retry_is_due_is_processed_and_one_not_yet_due_waits():
    due = stored("failed", queued_ago=timedelta(hours=1), next_attempt_in=-timedelta(minutes=1))
    later = stored("failed", queued_ago=timedelta(hours=1), next_attempt_in=timedelta(hours=1))

    reconcile()

    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.state, later.state) == ("processed", "failed")


def test_limit_hands_over_no_more_than_asked():
    for _ in range(3):
        stored("pending", queued_ago=timedelta(minutes=10))

    output = reconcile("--limit", "2")

    assert "Handed 2 stuck" in output
    assert WebhookEvent.objects.filter(state="pending").count() == 1


def test_many_stuck_events_are_handed_over_in_batches():
    for _ in range(450):
        stored("pending", queued_ago=timedelta(minutes=10))

    output = reconcile()

    assert "Handed 450 stuck" in output
    assert not WebhookEvent.objects.exclude(state="processed").exists()


@pytest.fixture
def call_ended_an_hour_ago_with_its_recording_unfinished():
    ended = timezone.now() - timedelta(hours=1)
    call = Call.objects.create(
        minivoice_id="call_quiet",
        status=Call.Status.ENDED,
        final_status=Call.FinalStatus.COMPLETED,
        started_at=ended - timedelta(minutes=2),
        ended_at=ended,
    )
    Recording.objects.create(
        call=call,
        minivoice_id="rec_quiet",
        status=Recording.Status.STARTED,
        started_at=ended - timedelta(minutes=1),
    )
    return call


def test_problems_that_need_time_to_show_are_checked_again(
    call_ended_an_hour_ago_with_its_recording_unfinished,
):
    call = call_ended_an_hour_ago_with_its_recording_unfinished

    output = reconcile()

    assert CallProblem.Code.RECORDING_NOT_COMPLETED in call.problems.values_list("code", flat=True)
    assert "checked 1 call(s) again for problems" in output


def test_dry_run_checks_no_problems(call_ended_an_hour_ago_with_its_recording_unfinished):
    reconcile("--dry-run")

    assert not CallProblem.objects.exists()


def test_dry_run_counts_and_changes_nothing():
    stuck = stored("pending", queued_ago=timedelta(minutes=10))
    queued_at = stuck.queued_at

    output = reconcile("--dry-run")

    stuck.refresh_from_db()
    assert (stuck.state, stuck.queued_at) == ("pending", queued_at)
    assert "Would hand 1 stuck or due event(s) to a worker" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "0"], "--older-than must be from 1"),
        (["--older-than", "two"], "invalid int value"),
        (["--limit", "0"], "--limit must be from 1"),
    ],
)
def test_bad_arguments_are_refused_and_change_nothing(args, message):
    stuck = stored("pending", queued_ago=timedelta(minutes=10))

    with pytest.raises(CommandError, match=message):
        reconcile(*args)

    stuck.refresh_from_db()
    assert stuck.state == "pending"
