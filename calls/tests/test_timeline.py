"""`calls.timeline.build_timeline`: a call's merged timeline and story, without a request."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import flows
from calls.models import AnswerExchange, Call, WebhookEvent
from calls.processing import batch as processing
from calls.timeline import build_timeline, timeline_json
from conftest import WEBHOOK_URL, minivoice_event, signed

START = datetime(2026, 5, 29, 12, 0, 3, tzinfo=UTC)


def moment(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def stamp(seconds: float) -> str:
    return moment(seconds).isoformat().replace("+00:00", "Z")


@pytest.fixture
def deliver(post_webhook):
    """Send one signed event through the webhook URL, processed as a worker would."""

    def send(event_type: str, seconds: float, *, call_id: str = "call_123", **data):
        webhook_id = f"msg_{uuid.uuid4().hex}"
        payload = minivoice_event(event_type, call_id=call_id, created_at=stamp(seconds), **data)
        payload["call"] |= {"from": "+15550100", "to": "+15550199"}
        response = post_webhook(payload, webhook_id=webhook_id)
        assert response.status_code == 202, response.content
        return WebhookEvent.objects.get(webhook_id=webhook_id)

    return send


@pytest.fixture
def answer(post_answer):
    def ask(seconds: float, *, call_id: str = "call_123") -> AnswerExchange:
        request = {
            "call": {"id": call_id, "status": "in_progress", "direction": "inbound"},
            "created_at": stamp(seconds),
        }
        request["call"] |= {"from": "+15550100", "to": "+15550199"}
        response = post_answer(request)
        assert response.status_code == 200, response.content
        return AnswerExchange.objects.filter(call_minivoice_id=call_id).latest("pk")

    return ask


def happy_call(deliver, answer, *, end: float = 40.0) -> None:
    deliver("call.initiated", 0)
    deliver("call.ringing", 1)
    deliver("call.answered", 2)
    answer(2)
    deliver("recording.started", 2.1, recording_id="rec_1", status="started")
    deliver("call.completed", end, status="completed", duration_seconds=int(end - 2))
    deliver(
        "recording.completed",
        end + 3,
        recording_id="rec_1",
        status="completed",
        duration_seconds=int(end - 2),
    )


@pytest.mark.django_db
def test_entries_merge_exchanges_events_recordings_and_status_in_time_order(deliver, answer):
    happy_call(deliver, answer)

    timeline = build_timeline(call_id="call_123")

    assert timeline.origin == moment(0)
    ats = [entry.at for entry in timeline.entries]
    assert ats == sorted(ats)
    kinds = {entry.kind for entry in timeline.entries}
    assert kinds == {"status", "answer_url", "webhook", "recording"}
    [exchange] = [entry for entry in timeline.entries if entry.kind == "answer_url"]
    assert exchange.title == "start_recording → say → stop_recording"
    assert exchange.offset_seconds == 2.0
    assert exchange.latency_ms is not None and exchange.latency_ms >= 0
    [started] = [entry for entry in timeline.entries if entry.title == "recording.started"]
    assert started.offset_seconds == 2.1
    assert started.state == "processed"
    assert started.received_at is not None
    statuses = [entry.state for entry in timeline.entries if entry.kind == "status"]
    assert statuses == ["initiated", "ringing", "in_progress", "ended"]
    [recording] = [entry for entry in timeline.entries if entry.kind == "recording"]
    assert recording.state == "completed"
    assert "38 s long" in recording.summary


@pytest.mark.django_db
def test_the_answer_comes_before_a_report_of_the_same_instant_and_the_end_last(deliver, answer):
    deliver("call.answered", 5)
    deliver("recording.started", 5, recording_id="rec_1")
    answer(5)
    deliver("call.completed", 5, status="completed")
    deliver("recording.failed", 5, recording_id="rec_1", reason="call not active")

    entries = build_timeline(call_id="call_123").entries

    order = [(entry.kind, entry.title) for entry in entries]
    assert order.index(("answer_url", "start_recording → say → stop_recording")) < order.index(
        ("webhook", "recording.started")
    )
    assert order[-2:] == [("webhook", "call.completed"), ("status", "ended: completed")]


@pytest.mark.django_db
def test_an_event_delivered_after_a_later_one_is_marked_out_of_order(deliver):
    deliver("recording.completed", 30, recording_id="rec_1", duration_seconds=20)
    deliver("recording.started", 10, recording_id="rec_1")

    entries = build_timeline(call_id="call_123").entries
    events = {entry.title: entry for entry in entries if entry.kind == "webhook"}

    assert events["recording.started"].out_of_order is True
    assert "Arrived after an event that happened later." in events["recording.started"].summary
    assert events["recording.completed"].out_of_order is False


@pytest.mark.django_db
def test_a_duplicate_delivery_is_one_entry_with_its_count(post_webhook):
    payload = minivoice_event("recording.started", recording_id="rec_1")
    for _ in range(3):
        post_webhook(payload, webhook_id="msg_same")

    [entry] = [e for e in build_timeline(call_id="call_123").entries if e.kind == "webhook"]

    assert entry.deliveries == 3
    assert "Delivered 3 times." in entry.summary


@pytest.mark.django_db
def test_a_refused_request_and_the_fallback_are_said_plainly(answer, post_answer, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("flow bug")

    monkeypatch.setattr(flows, "actions_for_call", broken)
    answer(1)

    [entry] = [e for e in build_timeline(call_id="call_123").entries if e.kind == "answer_url"]

    assert entry.severity == "error"
    assert entry.title == "say → hangup"
    assert "fallback" in entry.summary


@pytest.mark.django_db
def test_a_call_known_only_from_stored_events_has_a_timeline(client):
    body = json.dumps(minivoice_event(call_id="call_pending", recording_id="rec_p")).encode()
    # The plain client: the test's transaction never commits, so the task never runs.
    client.post(WEBHOOK_URL, data=body, content_type="application/json", **signed(body))

    timeline = build_timeline(call_id="call_pending")

    assert timeline.call is None
    assert [entry.title for entry in timeline.entries] == ["recording.started"]
    assert timeline.entries[0].offset_seconds == 0.0
    assert "none has been applied to a call yet (1 pending)" in timeline.story
    assert timeline.problems == []


@pytest.mark.django_db
def test_an_unknown_call_id_has_an_empty_timeline():
    timeline = build_timeline(call_id="nope")

    assert (timeline.call, timeline.entries, timeline.story, timeline.problems) == (
        None,
        [],
        "",
        [],
    )


def many_events(call: Call, count: int) -> None:
    WebhookEvent.objects.bulk_create(
        WebhookEvent(
            webhook_id=f"msg_{call.minivoice_id}_{index}",
            event_type="call.ringing",
            call_minivoice_id=call.minivoice_id,
            occurred_at=moment(index),
            raw_body="{}",
            payload=minivoice_event("call.ringing", call_id=call.minivoice_id),
            state=WebhookEvent.State.PROCESSED,
        )
        for index in range(count)
    )


def queries_to_build(call_id: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        timeline = build_timeline(call_id=call_id, max_events=50)
        timeline_json(timeline)
    return len(captured.captured_queries)


@pytest.mark.django_db
def test_the_number_of_queries_is_the_same_for_10_and_2000_events(answer):
    answer(0, call_id="call_small")
    answer(0, call_id="call_big")
    many_events(Call.objects.get(minivoice_id="call_small"), 10)
    many_events(Call.objects.get(minivoice_id="call_big"), 2000)

    assert queries_to_build("call_small") == queries_to_build("call_big") <= 8


@pytest.mark.django_db
def test_a_long_call_shows_its_first_and_last_events_and_counts_the_rest(answer):
    answer(0)
    many_events(Call.objects.get(minivoice_id="call_123"), 2000)

    timeline = build_timeline(call_id="call_123", max_events=100)

    events = [entry for entry in timeline.entries if entry.kind == "webhook"]
    assert len(events) == 100
    assert timeline.hidden_entries == 1900
    assert events[0].at == moment(0)
    assert events[49].at == moment(49)
    assert events[50].at == moment(1950)
    assert events[-1].at == moment(1999)


# -- The story ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_story_of_a_call_that_ran_its_course(deliver, answer):
    happy_call(deliver, answer)

    story = build_timeline(call_id="call_123").story

    assert story.startswith("+15550100 called +15550199 on 2026-05-29 at 12:00:03 UTC")
    assert "was answered at +2.0 s with start_recording → say → stop_recording" in story
    assert "heard “Thank you for calling." in story
    assert "the recording started at +2.1 s and completed at +43.0 s (38 s)" in story
    assert story.endswith("the call ended at +40.0 s.")


@pytest.mark.django_db
def test_story_of_a_caller_who_hung_up_before_the_recording_completed(deliver, answer):
    deliver("call.initiated", 0)
    answer(1)
    deliver("recording.started", 2.1, recording_id="rec_1")
    deliver("call.completed", 14, status="completed")

    story = build_timeline(call_id="call_123").story

    assert "recording started at +2.1 s" in story
    assert story.endswith("the call ended at +14.0 s, before the recording completed.")


@pytest.mark.django_db
def test_story_of_a_call_hung_up_during_the_prompt(deliver, answer):
    deliver("call.initiated", 0)
    answer(1)
    deliver("call.completed", 2, status="completed")

    story = build_timeline(call_id="call_123").story

    assert "did not hear all of “Thank you for calling." in story
    assert "the call ended at +2.0 s" in story


@pytest.mark.django_db
def test_story_of_a_call_still_in_progress(deliver, answer):
    deliver("call.initiated", 0)
    answer(1)
    deliver("recording.started", 2, recording_id="rec_1")

    story = build_timeline(call_id="call_123").story

    assert story.endswith("the call is still in progress (last step: Recording started).")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "words"),
    [("busy", "the line was busy"), ("no_answer", "nobody answered")],
)
def test_story_of_an_unanswered_call(deliver, status, words):
    deliver("call.initiated", 0)
    deliver("call.ringing", 1)
    deliver("call.completed", 20, status=status)

    story = build_timeline(call_id="call_123").story

    assert story == (
        f"+15550100 called +15550199 on 2026-05-29 at 12:00:03 UTC; {words}, "
        "ending the call at +20.0 s."
    )
    assert "answer_url" not in story


@pytest.mark.django_db
def test_story_of_a_call_that_never_reached_the_answer_url(deliver):
    deliver("call.initiated", 0)
    deliver("call.answered", 1)
    deliver("call.completed", 9, status="completed")

    story = build_timeline(call_id="call_123").story

    assert "the call never reached our answer_url" in story


@pytest.mark.django_db
def test_story_of_a_failed_recording(deliver, answer):
    deliver("call.initiated", 0)
    answer(1)
    deliver("recording.failed", 1.5, recording_id="rec_1", reason="storage unavailable")

    story = build_timeline(call_id="call_123").story

    assert "the recording failed at +1.5 s: storage unavailable" in story


@pytest.mark.django_db
def test_story_of_a_call_whose_answer_fell_back(answer, monkeypatch):
    monkeypatch.setattr(flows, "actions_for_call", lambda **kwargs: 1 / 0)
    answer(0)

    story = build_timeline(call_id="call_123").story

    assert "building our answer failed at +0.0 s" in story
    assert "the recording never started" not in story


@pytest.mark.django_db
def test_story_times_follow_the_configured_time_zone(deliver, settings):
    settings.TIME_ZONE = "America/New_York"
    deliver("call.initiated", 0)

    story = build_timeline(call_id="call_123").story

    assert "on 2026-05-29 at 08:00:03 America/New_York" in story


@pytest.mark.django_db
def test_a_call_whose_only_event_failed_shows_the_failure_as_a_problem(deliver, monkeypatch):
    def broken(event, call, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(processing, "event_apply", broken)
    deliver("recording.started", 1, recording_id="rec_1")

    timeline = build_timeline(call_id="call_123")

    assert timeline.call is None  # the failure rolled back everything it did
    [problem] = timeline.problems
    assert (problem.code, problem.severity) == ("processing_failed", "error")
    assert "failed processing (recording.started)" in problem.message
    assert timeline_json(timeline)["problems"] == [
        {"code": "processing_failed", "severity": "error", "message": problem.message}
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("events", "words"),
    [
        (["call.initiated"], "the call has not rung yet (last step: Call initiated)."),
        (["call.initiated", "call.ringing"], "the call is still ringing (last step: Ringing)."),
    ],
    ids=["initiated", "ringing"],
)
def test_story_of_a_call_not_answered_yet(deliver, events, words):
    for second, event_type in enumerate(events):
        deliver(event_type, second)

    story = build_timeline(call_id="call_123").story

    assert story.endswith(words)
    assert "never reached our answer_url" not in story
