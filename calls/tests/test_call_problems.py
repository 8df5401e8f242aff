"""Problem checks (`calls.problems`): found when a call's events are processed,
by the beat sweep when only time passing tells, and shown by call_timeline."""

from __future__ import annotations

import io
import json
import uuid
from datetime import datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls import flows
from calls.models import Call, CallProblem, WebhookEvent
from calls.problems.store import call_problems_refresh
from calls.problems.sweep import calls_check_overdue
from calls.processing import batch as processing
from calls.processing.handover import events_replay
from calls.tasks import check_overdue_calls
from conftest import minivoice_event

# MiniVoice's clock in these tests: a call that began a minute before the test started.
BASE = timezone.now()


@pytest.fixture(autouse=True)
def call_began_a_minute_ago():
    # Set per test, not at import: a slow suite must not carry a test past a grace period.
    global BASE
    BASE = timezone.now().replace(microsecond=0) - timedelta(minutes=1)


def stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def deliver(post_webhook):
    def send(event_type: str, seconds: float, *, call_id: str = "call_123", **data):
        webhook_id = f"msg_{uuid.uuid4().hex}"
        at = BASE + timedelta(seconds=seconds)
        payload = minivoice_event(event_type, call_id=call_id, created_at=stamp(at), **data)
        response = post_webhook(payload, webhook_id=webhook_id)
        assert response.status_code == 202, response.content
        return WebhookEvent.objects.get(webhook_id=webhook_id)

    return send


@pytest.fixture
def answer(post_answer):
    def ask(seconds: float, *, call_id: str = "call_123"):
        at = BASE + timedelta(seconds=seconds)
        request = {"call": {"id": call_id, "status": "in_progress"}, "created_at": stamp(at)}
        response = post_answer(request)
        assert response.status_code == 200, response.content

    return ask


def problems(call_id: str = "call_123") -> dict[str, CallProblem]:
    return {p.code: p for p in CallProblem.objects.filter(call__minivoice_id=call_id)}


def later(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


# -- recording_not_completed --------------------------------------------------------------


@pytest.mark.django_db
def test_recording_that_never_completed_is_a_problem_once_the_grace_period_passed(deliver, answer):
    answer(1)
    deliver("recording.started", 2, recording_id="rec_1")
    deliver("call.completed", 14, status="completed")
    assert "recording_not_completed" not in problems()  # within the grace period

    grace = django_settings.MINIVOICE_RECORDING_COMPLETE_GRACE_SECONDS
    call_problems_refresh(call_id="call_123", now=later(14 + grace + 1))

    problem = problems()["recording_not_completed"]
    assert problem.severity == "error"
    # Offsets count from the call's start: the answer_url request at +1 s.
    assert "Recording rec_1 started at +1.0 s" in problem.message
    assert "call's end at +13.0 s" in problem.message


@pytest.mark.django_db
def test_a_late_delivery_of_a_timely_completion_clears_the_problem(deliver, answer):
    answer(1)
    deliver("recording.started", 2, recording_id="rec_1")
    deliver("call.completed", 14, status="completed")
    grace = django_settings.MINIVOICE_RECORDING_COMPLETE_GRACE_SECONDS
    call_problems_refresh(call_id="call_123", now=later(14 + grace + 60))
    assert "recording_not_completed" in problems()

    # Created in time by MiniVoice's clock, delivered only now: the verdict follows the clock.
    deliver("recording.completed", 16, recording_id="rec_1", duration_seconds=12)

    assert "recording_not_completed" not in problems()


@pytest.mark.django_db
def test_call_timeline_json_and_text_say_the_recording_never_completed(deliver, answer):
    answer(1)
    deliver("recording.started", 2, recording_id="rec_1")
    deliver("call.completed", 14, status="completed")
    call_problems_refresh(call_id="call_123", now=later(14 + 3600))

    out = io.StringIO()
    call_command("call_timeline", "call_123", "--json", stdout=out)
    document = json.loads(out.getvalue())
    text = io.StringIO()
    call_command("call_timeline", "call_123", stdout=text)

    [problem] = document["problems"]
    assert set(problem) == {"code", "severity", "message"}
    assert problem["code"] == "recording_not_completed"
    assert "before the recording completed" in document["story"]
    lines = text.getvalue().splitlines()
    assert lines[0] == "Problems (1)"
    assert lines[1].strip().startswith("ERROR    recording_not_completed: Recording rec_1")
    assert "before the recording completed" in lines[3]


# -- recording_not_started ----------------------------------------------------------------


@pytest.mark.django_db
def test_an_answer_with_start_recording_and_no_recording_is_found_by_the_sweep(answer):
    answer(1)
    grace = django_settings.MINIVOICE_RECORDING_START_GRACE_SECONDS

    assert calls_check_overdue(now=timezone.now()) == 0  # still within the grace period
    checked = calls_check_overdue(now=timezone.now() + timedelta(seconds=grace + 1))

    assert checked == 1
    problem = problems()["recording_not_started"]
    assert problem.severity == "error"
    assert "neither recording.started nor recording.failed came within 2 min" in problem.message


@pytest.mark.django_db
def test_a_recording_reported_started_within_the_grace_period_is_no_problem(deliver, answer):
    answer(1)
    deliver("recording.started", 3, recording_id="rec_1")
    grace = django_settings.MINIVOICE_RECORDING_START_GRACE_SECONDS

    call_problems_refresh(call_id="call_123", now=later(grace + 600))

    assert "recording_not_started" not in problems()


@pytest.mark.django_db
def test_a_recording_reported_after_the_grace_period_is_a_warning(deliver, answer):
    answer(1)
    grace = django_settings.MINIVOICE_RECORDING_START_GRACE_SECONDS
    deliver("recording.started", grace + 30, recording_id="rec_1")

    problem = problems()["recording_not_started"]
    assert problem.severity == "warning"
    assert "after the 2 min grace period" in problem.message


@pytest.mark.django_db
def test_the_sweep_checks_a_flagged_call_once(answer):
    answer(1)
    much_later = timezone.now() + timedelta(hours=1)
    assert calls_check_overdue(now=much_later) == 1

    assert calls_check_overdue(now=much_later) == 0


@pytest.mark.django_db
def test_the_sweep_reads_a_fixed_number_of_queries_however_many_healthy_calls(deliver, answer):
    def sweep_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            calls_check_overdue(now=timezone.now() + timedelta(hours=1))
        return len(captured.captured_queries)

    empty = sweep_queries()
    for index in range(30):
        call_id = f"call_{index}"
        answer(1, call_id=call_id)
        deliver("recording.started", 2, call_id=call_id, recording_id=f"rec_{index}")
        deliver("call.completed", 9, call_id=call_id, status="completed")
        deliver("recording.completed", 10, call_id=call_id, recording_id=f"rec_{index}")

    assert sweep_queries() == empty


def test_the_sweep_runs_every_minute_from_beat():
    entry = django_settings.CELERY_BEAT_SCHEDULE["check-overdue-calls"]
    assert entry == {"task": "calls.tasks.check_overdue_calls", "schedule": 60.0}
    assert check_overdue_calls.name == entry["task"]


# -- call_stuck ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_call_in_progress_past_the_limit_is_stuck(deliver):
    deliver("call.answered", 0)
    call = Call.objects.get()
    hours = django_settings.MINIVOICE_CALL_STUCK_HOURS
    Call.objects.filter(pk=call.pk).update(created_at=timezone.now() - timedelta(hours=hours + 1))

    assert calls_check_overdue(now=timezone.now() + timedelta(hours=hours)) >= 1

    problem = problems()["call_stuck"]
    assert problem.severity == "warning"
    assert "more than 4 h after it began" in problem.message

    deliver("call.completed", 60, status="completed")
    assert "call_stuck" not in problems()


# -- Found as the events are processed ----------------------------------------------------


@pytest.mark.django_db
def test_a_failed_recording_is_a_problem_with_minivoices_reason(deliver, answer):
    answer(1)
    deliver("recording.failed", 2, recording_id="rec_1", reason="storage unavailable")

    problem = problems()["recording_failed"]
    assert problem.severity == "error"
    assert "rec_1 at +1.0 s: storage unavailable" in problem.message


@pytest.mark.django_db
def test_answer_url_failed_from_minivoice_is_a_problem(deliver, answer):
    answer(1)
    deliver(
        "answer_url.failed",
        2,
        error={"code": "answer_url_error", "message": "invalid action payload"},
    )

    problem = problems()["answer_url_failed"]
    assert "(answer_url_error: invalid action payload)" in problem.message


@pytest.mark.django_db
def test_answering_with_the_fallback_is_an_answer_url_problem(deliver, answer, monkeypatch):
    monkeypatch.setattr(flows, "actions_for_call", lambda **kwargs: 1 / 0)
    answer(1)
    deliver("call.completed", 5, status="completed")

    assert "got the fallback" in problems()["answer_url_failed"].message
    assert "recording_not_started" not in problems()  # the fallback never asked for one


@pytest.mark.django_db
def test_a_call_answered_that_never_asked_the_answer_url_is_a_problem(deliver):
    deliver("call.answered", 1)
    deliver("call.completed", 9, status="completed")

    assert "never asked our answer_url" in problems()["no_answer_url"].message


@pytest.mark.django_db
def test_a_busy_call_that_never_asked_the_answer_url_is_no_problem(deliver):
    deliver("call.ringing", 1)
    deliver("call.completed", 9, status="busy")

    assert problems() == {}


@pytest.mark.django_db
def test_a_call_that_ended_during_the_prompt_ended_early(deliver, answer):
    answer(1)
    deliver("recording.started", 1, recording_id="rec_1")
    deliver("call.completed", 2, status="completed")

    problem = problems()["ended_early"]
    assert problem.severity == "warning"
    assert "before its last action (stop_recording) could run" in problem.message


@pytest.mark.django_db
def test_a_call_that_ran_its_course_has_no_problems(deliver, answer):
    deliver("call.initiated", 0)
    deliver("call.answered", 1)
    answer(1)
    deliver("recording.started", 1, recording_id="rec_1")
    deliver("call.completed", 12, status="completed")
    deliver("recording.completed", 13, recording_id="rec_1", duration_seconds=11)

    call_problems_refresh(call_id="call_123", now=timezone.now() + timedelta(days=1))

    assert problems() == {}


@pytest.mark.django_db
def test_a_failed_event_is_a_problem_until_its_replay_succeeds(
    deliver, answer, monkeypatch, django_capture_on_commit_callbacks
):
    answer(1)
    real_apply = processing.event_apply

    def broken(event, call, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(processing, "event_apply", broken)
    event = deliver("recording.started", 2, recording_id="rec_1")
    assert event.state == WebhookEvent.State.FAILED
    problem = problems()["processing_failed"]
    assert "1 event(s) of this call failed processing (recording.started)" in problem.message
    assert "retried automatically" in problem.message

    monkeypatch.setattr(processing, "event_apply", real_apply)
    with django_capture_on_commit_callbacks(execute=True):
        events_replay(events=WebhookEvent.objects.filter(pk=event.pk))

    assert "processing_failed" not in problems()


@pytest.mark.django_db
def test_a_problem_whose_words_change_is_updated_not_duplicated(deliver, answer):
    answer(1)
    deliver("recording.failed", 2, recording_id="rec_1", reason="disk full")
    first = problems()["recording_failed"]
    deliver("recording.failed", 3, recording_id="rec_2", reason="codec")

    again = problems()["recording_failed"]
    assert again.pk == first.pk
    assert "codec" in again.message
    assert CallProblem.objects.count() == 1


@pytest.mark.django_db
def test_an_event_for_an_unknown_call_with_no_row_stores_no_problem(client):
    assert call_problems_refresh(call_id="nope") == []
    assert not CallProblem.objects.exists()
