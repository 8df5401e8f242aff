"""The sweep asks MiniVoice's API (the emulator, over real HTTP on loopback) what its
webhooks did not say, before it raises `recording_not_completed` or `call_stuck`: the
recording's end (and then its audio), the call's final status and duration, each noted
on the timeline as learned from the API. Whatever goes wrong with the API, the problem is
raised as before and the sweep carries on."""

from __future__ import annotations

import io
import json
import socket
import uuid
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from calls.models import Call, CallProblem, WebhookEvent
from calls.problems.lookups import Lookups
from calls.problems.sweep import calls_check_overdue
from conftest import minivoice_event
from recordings.models import AudioState, Recording

pytestmark = pytest.mark.django_db

GRACE = timedelta(minutes=15)  # MINIVOICE_RECORDING_COMPLETE_GRACE_SECONDS's default
STUCK = timedelta(hours=4)  # MINIVOICE_CALL_STUCK_HOURS's default


@pytest.fixture
def began() -> datetime:
    """When the call began, by MiniVoice's clock: a minute before the test."""
    return timezone.now().replace(microsecond=0) - timedelta(minutes=1)


def stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def deliver(post_webhook, began):
    def send(event_type: str, seconds: float, *, call_id: str = "call_123", **data) -> None:
        payload = minivoice_event(
            event_type,
            call_id=call_id,
            created_at=stamp(began + timedelta(seconds=seconds)),
            **data,
        )
        response = post_webhook(payload, webhook_id=f"msg_{uuid.uuid4().hex}")
        assert response.status_code == 202, response.content

    return send


@pytest.fixture
def answer(post_answer, began):
    """MiniVoice asks our answer_url, a second into the call (the default flow answers)."""

    def ask(*, call_id: str = "call_123") -> None:
        request = {
            "call": {"id": call_id, "status": "in_progress"},
            "created_at": stamp(began + timedelta(seconds=1)),
        }
        assert post_answer(request).status_code == 200

    return ask


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Beat's sweep at a moment of the test's choosing; the audio it asks for is fetched
    after commit, as in production."""

    def run(at: datetime, *, lookups: Lookups | None = None) -> Lookups:
        lookups = lookups or Lookups()
        with django_capture_on_commit_callbacks(execute=True):
            calls_check_overdue(now=at, lookups=lookups)
        return lookups

    return run


def minivoice_knows(
    emulator,
    began: datetime,
    *,
    call_id: str = "call_123",
    status: str = "completed",
    seconds: int | None = 14,
    recordings: list[tuple[str, str]] = (),
) -> None:
    """Tell the emulator how the call (and its recordings) really went, as simulate_call
    does when it plays one."""
    emulator.state.register(
        {
            "call": {
                "id": call_id,
                "status": status,
                "duration_seconds": seconds,
                "started_at": stamp(began),
                "ended_at": stamp(began + timedelta(seconds=seconds)) if seconds else None,
                "from": "+15550100",
                "to": "+15550199",
                "direction": "inbound",
            },
            "recordings": [
                {
                    "id": recording_id,
                    "status": recording_status,
                    "duration_seconds": 3,
                    "created_at": stamp(began + timedelta(seconds=2)),
                    "completed_at": stamp(began + timedelta(seconds=13)),
                    "spoken": [{"offset_seconds": 0.2, "text": "Thank you for calling"}],
                }
                for recording_id, recording_status in recordings
            ],
        }
    )


def problems(call_id: str = "call_123") -> set[str]:
    rows = CallProblem.objects.filter(call__minivoice_id=call_id)
    return set(rows.values_list("code", flat=True))


def timeline_json(call_id: str = "call_123") -> dict:
    out = io.StringIO()
    call_command("call_timeline", call_id, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def recording_left_started(deliver, answer, began):
    """rec_1 started, the call ended, and recording.completed never came."""
    deliver("call.answered", 0)
    answer()
    deliver("recording.started", 2, recording_id="rec_1", status="started")
    deliver("call.completed", 14, status="completed", duration_seconds=14)
    return began + timedelta(seconds=14) + GRACE + timedelta(seconds=1)  # when to sweep


@pytest.fixture
def call_left_in_progress(deliver, answer):
    """Answered and recorded, and call.completed never came; stuck by then."""
    _answered_and_recorded(deliver, answer, "call_123")
    return timezone.now() + STUCK + timedelta(minutes=1)  # when to sweep


def _answered_and_recorded(deliver, answer, call_id: str) -> None:
    deliver("call.answered", 0, call_id=call_id)
    answer(call_id=call_id)
    recording_id = f"rec_{call_id}"
    deliver("recording.started", 2, call_id=call_id, recording_id=recording_id)
    deliver("recording.completed", 13, call_id=call_id, recording_id=recording_id)


# -- A recording left started ---------------------------------------------------------------


def test_a_recording_minivoice_completed_is_completed_and_its_audio_stored(
    emulator, began, recording_left_started, sweep
):
    minivoice_knows(emulator, began, recordings=[("rec_1", "completed")])

    sweep(recording_left_started)

    recording = Recording.objects.get(minivoice_id="rec_1")
    assert (recording.status, recording.status_from_api) == (Recording.Status.COMPLETED, True)
    assert recording.completed_at == began + timedelta(seconds=13)
    assert recording.duration_seconds == 3
    assert recording.audio_state == AudioState.STORED
    assert recording.audio_sha256 == emulator.sha256("rec_1")
    assert (emulator.media_root / recording.audio_key).read_bytes() == emulator.media("rec_1")
    assert problems() == set()


def test_the_timeline_says_the_completion_came_from_minivoices_api_not_a_webhook(
    emulator, began, recording_left_started, sweep
):
    minivoice_knows(emulator, began, recordings=[("rec_1", "completed")])

    sweep(recording_left_started)

    document = timeline_json()
    [recording] = document["recordings"]
    assert (recording["status"], recording["status_from_api"]) == ("completed", True)
    assert recording["audio_state"] == "stored"
    [entry] = [entry for entry in document["entries"] if entry["kind"] == "recording"]
    assert "MiniVoice's API said so when asked: no webhook did" in entry["summary"]
    assert "(3 s) (MiniVoice's API said so: its webhook never came)" in document["story"]
    # No webhook is made up for it: the log holds what MiniVoice delivered, nothing more.
    assert not WebhookEvent.objects.filter(event_type="recording.completed").exists()


def test_a_recording_minivoice_failed_is_failed_and_raised_as_failed(
    emulator, began, recording_left_started, sweep
):
    minivoice_knows(emulator, began, recordings=[("rec_1", "failed")])

    sweep(recording_left_started)

    recording = Recording.objects.get(minivoice_id="rec_1")
    assert (recording.status, recording.status_from_api) == (Recording.Status.FAILED, True)
    assert recording.failure_reason == "MiniVoice's API says the recording failed."
    assert problems() == {"recording_failed"}
    assert recording.audio_state == AudioState.PENDING  # nothing to fetch
    assert emulator.stored_files() == []


def test_a_recording_minivoice_says_is_still_recording_is_raised_as_before(
    emulator, began, recording_left_started, sweep
):
    minivoice_knows(emulator, began, recordings=[("rec_1", "started")])

    sweep(recording_left_started)

    recording = Recording.objects.get(minivoice_id="rec_1")
    assert (recording.status, recording.status_from_api) == (Recording.Status.STARTED, False)
    assert problems() == {"recording_not_completed"}


def test_a_recording_minivoice_does_not_know_is_raised_and_asked_about_once(
    emulator, began, recording_left_started, sweep
):
    minivoice_knows(emulator, began, recordings=[("rec_1", "completed")])
    emulator.fault("rec_1=404")

    first = sweep(recording_left_started)
    second = sweep(recording_left_started + timedelta(minutes=1))

    assert problems() == {"recording_not_completed"}
    assert Recording.objects.get(minivoice_id="rec_1").status == Recording.Status.STARTED
    assert (first.asked, first.api_down) == (1, "")  # a 404 is about that recording only
    assert second.asked == 0  # raised once, never asked again


def test_within_the_grace_period_nothing_is_asked(emulator, began, deliver, sweep):
    minivoice_knows(emulator, began, recordings=[("rec_1", "completed")])
    deliver("recording.started", 2, recording_id="rec_1", status="started")
    deliver("call.completed", 14, status="completed")

    lookups = sweep(began + timedelta(seconds=14) + GRACE - timedelta(seconds=5))

    assert lookups.asked == 0
    assert Recording.objects.get(minivoice_id="rec_1").status == Recording.Status.STARTED


# -- A call stuck in progress ---------------------------------------------------------------


def test_a_stuck_call_minivoice_ended_gets_its_final_status_and_duration(
    emulator, began, call_left_in_progress, sweep
):
    minivoice_knows(emulator, began, status="no_answer", seconds=14)
    reached = Call.objects.get().last_step

    sweep(call_left_in_progress)

    call = Call.objects.get()
    assert (call.status, call.final_status) == (Call.Status.ENDED, Call.FinalStatus.NO_ANSWER)
    assert (call.duration_seconds, call.ended_at) == (14, began + timedelta(seconds=14))
    assert call.ended_from_api is True
    assert call.last_step == f"Call ended (no answer) after: {reached}"
    assert problems() == set()


def test_the_timeline_says_the_end_came_from_minivoices_api_not_a_webhook(
    emulator, began, call_left_in_progress, sweep
):
    minivoice_knows(emulator, began, status="completed", seconds=14)

    sweep(call_left_in_progress)

    document = timeline_json()
    assert document["call"]["ended_from_api"] is True
    [end] = [e for e in document["entries"] if e["kind"] == "status" and e["state"] == "ended"]
    assert end["summary"] == (
        "The call ended (completed, after 14 s). MiniVoice's API said so when asked: "
        "no call.completed webhook came."
    )
    assert "(MiniVoice's API said so: call.completed never came)" in document["story"]
    assert not WebhookEvent.objects.filter(event_type="call.completed").exists()


def test_a_late_call_completed_changes_nothing_the_api_said(
    emulator, began, call_left_in_progress, sweep, deliver
):
    minivoice_knows(emulator, began, status="completed", seconds=14)
    sweep(call_left_in_progress)

    deliver("call.completed", 14, status="completed", duration_seconds=14)

    call = Call.objects.get()
    assert (call.final_status, call.duration_seconds) == ("completed", 14)
    assert call.ended_from_api is True  # where the end was first learned
    assert problems() == set()


def test_a_stuck_call_minivoice_ended_has_its_recordings_asked_about_too(
    emulator, began, deliver, answer, sweep
):
    minivoice_knows(emulator, began, seconds=14, recordings=[("rec_1", "completed")])
    deliver("call.answered", 0)
    answer()
    deliver("recording.started", 2, recording_id="rec_1", status="started")

    lookups = sweep(timezone.now() + STUCK + timedelta(minutes=1))

    assert lookups.asked == 2
    assert Call.objects.get().final_status == Call.FinalStatus.COMPLETED
    recording = Recording.objects.get(minivoice_id="rec_1")
    assert (recording.status, recording.audio_state) == ("completed", AudioState.STORED)
    assert problems() == set()


def test_a_call_minivoice_says_is_still_in_progress_is_stuck(
    emulator, began, call_left_in_progress, sweep
):
    minivoice_knows(emulator, began, status="in_progress", seconds=None)

    sweep(call_left_in_progress)

    call = Call.objects.get()
    assert (call.status, call.ended_from_api) == (Call.Status.IN_PROGRESS, False)
    assert problems() == {"call_stuck"}


def test_a_call_minivoice_does_not_know_is_stuck(emulator, call_left_in_progress, sweep):
    lookups = sweep(call_left_in_progress)

    assert (lookups.asked, lookups.api_down) == (1, "")
    assert Call.objects.get().status == Call.Status.IN_PROGRESS
    assert problems() == {"call_stuck"}


# -- When MiniVoice's API cannot help -------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def three_stuck_calls(deliver, answer):
    for call_id in ("call_a", "call_b", "call_c"):
        _answered_and_recorded(deliver, answer, call_id)
    return timezone.now() + STUCK + timedelta(minutes=1)


def test_an_unreachable_api_is_asked_once_and_every_problem_raised(
    emulator, settings, three_stuck_calls, sweep
):
    settings.MINIVOICE_API_URL = f"http://127.0.0.1:{_closed_port()}"

    lookups = sweep(three_stuck_calls)

    assert lookups.asked == 1  # then the run stops asking
    assert "Could not reach MiniVoice" in lookups.api_down
    for call_id in ("call_a", "call_b", "call_c"):
        assert problems(call_id) == {"call_stuck"}
    assert not Call.objects.filter(status=Call.Status.ENDED).exists()


def test_an_api_slower_than_the_timeout_is_asked_once_and_the_problem_raised(
    emulator, began, recording_left_started, sweep
):
    minivoice_knows(emulator, began, recordings=[("rec_1", "completed")])
    emulator.fault("rec_1=slow")  # 2 s, past the fixture's 0.5 s timeout

    lookups = sweep(recording_left_started)

    assert "did not answer" in lookups.api_down
    assert problems() == {"recording_not_completed"}
    assert Recording.objects.get(minivoice_id="rec_1").status == Recording.Status.STARTED


def test_an_api_that_fails_with_500_leaves_the_problem_raised(
    emulator, began, recording_left_started, sweep
):
    minivoice_knows(emulator, began, recordings=[("rec_1", "completed")])
    emulator.fault("rec_1=500-once")

    lookups = sweep(recording_left_started)

    assert "HTTP 500" in lookups.api_down
    assert problems() == {"recording_not_completed"}


def test_without_an_api_url_the_sweep_asks_nothing_and_raises_as_before(
    emulator, settings, three_stuck_calls, sweep
):
    settings.MINIVOICE_API_URL = ""

    lookups = sweep(three_stuck_calls)

    assert lookups.asked == 0
    assert {code for c in ("call_a", "call_b", "call_c") for code in problems(c)} == {"call_stuck"}


def test_a_run_asks_a_bounded_number_and_leaves_the_rest_for_the_next(
    emulator, began, three_stuck_calls, sweep
):
    for call_id in ("call_a", "call_b", "call_c"):
        minivoice_knows(emulator, began, call_id=call_id, status="completed", seconds=14)

    first = sweep(three_stuck_calls, lookups=Lookups(left=2))

    assert first.asked == 2
    assert Call.objects.filter(status=Call.Status.ENDED).count() == 2
    assert not CallProblem.objects.exists()  # the third is neither asked nor raised yet

    second = sweep(three_stuck_calls + timedelta(minutes=1), lookups=Lookups(left=2))

    assert second.asked == 1
    assert Call.objects.filter(status=Call.Status.ENDED, ended_from_api=True).count() == 3
    assert not CallProblem.objects.exists()
