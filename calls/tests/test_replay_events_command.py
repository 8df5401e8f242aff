"""`manage.py replay_events`: chosen events go through the worker's path again.

Real commits (transactional tests): replayed work is handed over after commit.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from calls.models import Call, WebhookEvent
from conftest import minivoice_event
from recordings.models import Recording

pytestmark = pytest.mark.django_db(transaction=True)


def stored(state: str, *, call_id: str = "call_1", received_at=None, webhook_id=None, **data):
    payload = minivoice_event(
        "recording.started", call_id=call_id, recording_id=f"rec_{call_id}", **data
    )
    return WebhookEvent.objects.create(
        webhook_id=webhook_id or f"msg_{WebhookEvent.objects.count()}_{call_id}",
        event_type="recording.started",
        call_minivoice_id=call_id,
        raw_body="{}",
        payload=payload,
        state=state,
        error="Traceback: the database was down" if state != "pending" else "",
        received_at=received_at or timezone.now(),
    )


@pytest.fixture
def replay():
    def run(*args: str) -> str:
        out = StringIO()
        call_command("replay_events", *args, stdout=out, stderr=StringIO())
        return out.getvalue()

    return run


def test_failed_event_is_processed_again_and_the_change_is_printed(replay):
    event = stored(WebhookEvent.State.FAILED)

    output = replay("--id", str(event.pk))

    event.refresh_from_db()
    assert (event.state, event.error) == (WebhookEvent.State.PROCESSED, "")
    assert Recording.objects.get(minivoice_id="rec_call_1").status == Recording.Status.STARTED
    assert "Replayed 1 event(s), now: 1 processed; 0 already done" in output


def test_running_it_twice_changes_nothing_more(replay):
    event = stored(WebhookEvent.State.GAVE_UP)
    replay("--id", str(event.pk))
    event.refresh_from_db()
    processed_at, attempts = event.processed_at, event.attempts

    output = replay("--id", str(event.pk))

    event.refresh_from_db()
    assert (event.processed_at, event.attempts) == (processed_at, attempts)
    assert "Nothing to replay: 1 chosen event(s) already done." in output
    assert Recording.objects.count() == 1


def test_call_choice_leaves_other_calls_alone(replay):
    mine = stored(WebhookEvent.State.FAILED, call_id="call_mine")
    other = stored(WebhookEvent.State.FAILED, call_id="call_other")

    replay("--call", "call_mine")

    mine.refresh_from_db()
    other.refresh_from_db()
    assert (mine.state, other.state) == ("processed", "failed")
    assert list(Call.objects.values_list("minivoice_id", flat=True)) == ["call_mine"]


def test_state_and_since_choices_narrow_together(replay):
    old_failed = stored("failed", call_id="call_a", received_at=timezone.now() - timedelta(days=3))
    new_failed = stored("failed", call_id="call_b")
    new_gave_up = stored("gave_up", call_id="call_c")

    output = replay("--state", "failed", "--since", "1d")

    states = dict(WebhookEvent.objects.values_list("pk", "state"))
    assert states == {
        old_failed.pk: "failed",
        new_failed.pk: "processed",
        new_gave_up.pk: "gave_up",
    }
    assert "Replayed 1 event(s)" in output


def test_dry_run_says_what_would_be_replayed_and_changes_nothing(replay):
    stored("failed")
    stored("processed", webhook_id="msg_done")

    output = replay("--call", "call_1", "--dry-run")

    assert "Would replay 1 event(s); 1 already done" in output
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"failed", "processed"}
    assert not Call.objects.exists()


def test_many_events_are_replayed_in_batches(replay):
    for index in range(450):
        stored("failed", call_id=f"call_{index}")

    output = replay("--state", "failed")

    assert "Replayed 450 event(s), now: 450 processed" in output
    assert Recording.objects.count() == 450


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Choose the events"),
        (["--id", "999"], "No webhook event with id 999; nothing replayed."),
        (["--since", "yesterday"], "--since takes a date"),
        (["--since", "0h"], "--since takes a length of time"),
        (["--state", "processed"], "invalid choice"),
        (["--id", "abc"], "invalid int value"),
    ],
    ids=["no-choice", "unknown-id", "since-words", "since-zero", "done-state", "id-not-a-number"],
)
def test_bad_arguments_are_refused_in_one_line_and_change_nothing(replay, args, message):
    event = stored("failed")

    with pytest.raises(CommandError, match=message):
        replay(*args)

    event.refresh_from_db()
    assert event.state == "failed"
    assert not Call.objects.exists()
