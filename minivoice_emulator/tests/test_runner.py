"""The actions runner on its simulated clock, against scripted answers.

The app's own flow has no collect, redirect or transfer yet, so these drive the runner
with answers written here; `test_simulate_call_command.py` plays the real app.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from minivoice_emulator.runner import CallRunner, PlayedCall
from minivoice_emulator.scenarios import SCENARIOS
from minivoice_emulator.transport import Delivery, Reply, Unreachable

START = datetime(2026, 5, 29, 12, 0, tzinfo=UTC)
ANSWER_URL = "http://app.test/minivoice/answer/"
NEXT_URL = "http://app.test/minivoice/next/"


class ScriptedApp:
    """Answers each URL with the next payload written for it; keeps every request."""

    def __init__(self, answers: dict[str, list]) -> None:
        self.answers = {url: list(payloads) for url, payloads in answers.items()}
        self.requests: list[tuple[str, dict, str]] = []
        self.delivered: list[Delivery] = []

    def request_answer(self, url: str, body: dict, webhook_id: str) -> Reply:
        self.requests.append((url, body, webhook_id))
        payload = self.answers[url].pop(0)
        if isinstance(payload, Reply):
            return payload
        return Reply(status=200, body=json.dumps(payload).encode(), latency_ms=1.0)

    def deliver(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            delivery.attempts = delivery.acknowledged = 1
        self.delivered.extend(deliveries)


def play(app: ScriptedApp, scenario: str = "happy", **options) -> PlayedCall:
    runner = CallRunner(
        call_id="call_1",
        scenario=SCENARIOS[scenario],
        answer_url=ANSWER_URL,
        api_url="http://api.test",
        request_answer=app.request_answer,
        deliver=app.deliver,
        start=START,
        **options,
    )
    return runner.play()


def events(app: ScriptedApp) -> list[str]:
    return [delivery.event for delivery in app.delivered]


SEED_FLOW = {
    "actions": [
        {"start_recording": {}},
        {"say": {"text": "one two three four five six seven eight nine ten"}},
        {"stop_recording": {}},
    ]
}


def test_seed_flow_records_for_as_long_as_the_prompt_takes():
    app = ScriptedApp({ANSWER_URL: [SEED_FLOW]})

    played = play(app)

    assert events(app) == [
        "call.initiated",
        "call.ringing",
        "call.answered",
        "recording.started",
        "call.completed",
        "recording.completed",
    ]
    completed = app.delivered[-1].payload["data"]
    assert completed["duration_seconds"] == 5  # ten words at 0.4 s, rounded up
    assert completed["format"] == "wav"
    assert completed["size_bytes"] == 44 + 16000 * 5
    assert completed["url"] == "http://api.test/v1/recordings/rec_call_1_1/media"
    assert played.final_status == "completed"


def test_webhooks_carry_the_simulated_clock_and_go_out_in_the_order_things_happened():
    app = ScriptedApp({ANSWER_URL: [SEED_FLOW]})

    play(app)

    moments = [delivery.at for delivery in app.delivered]
    assert moments == sorted(moments)
    assert len(set(moments)) == len(moments)  # no two share a timestamp
    assert app.delivered[0].payload["created_at"] == "2026-05-29T12:00:00Z"
    assert moments[-1] - moments[0] < timedelta(seconds=15)


def test_answer_url_request_is_a_json_body_with_its_own_webhook_id():
    app = ScriptedApp({ANSWER_URL: [SEED_FLOW]})

    play(app)

    ((url, body, webhook_id),) = app.requests
    assert url == ANSWER_URL
    assert body["call"]["id"] == "call_1"
    assert body["variables"] == {}
    assert body["created_at"] == "2026-05-29T12:00:03.010Z"
    assert webhook_id not in {delivery.webhook_id for delivery in app.delivered}


def test_collect_sends_the_scripted_digits_to_its_url_then_runs_what_comes_back():
    collect = {"actions": [{"collect": {"max_digits": 2, "url": NEXT_URL}}]}
    app = ScriptedApp({ANSWER_URL: [collect], NEXT_URL: [{"actions": [{"hangup": {}}]}]})

    played = play(app, digits=["123"])

    assert app.requests[1][0] == NEXT_URL
    assert app.requests[1][1]["variables"] == {"digits": "12"}  # cut to max_digits
    assert played.actions_run == ["collect", "hangup"]


def test_several_collects_take_the_digits_in_order_and_none_left_means_nothing_entered():
    collect = {"actions": [{"type": "collect"}]}
    app = ScriptedApp({ANSWER_URL: [collect, collect, collect, {"actions": [{"hangup": {}}]}]})

    play(app, digits=["1", "2"])

    assert [body["variables"] for _, body, _ in app.requests[1:]] == [
        {"digits": "1"},
        {"digits": "2"},
        {"digits": ""},
    ]


def test_no_digits_scenario_enters_nothing_even_when_digits_are_given():
    collect = {"actions": [{"collect": {"timeout_seconds": 7}}]}
    app = ScriptedApp({ANSWER_URL: [collect, {"actions": [{"hangup": {}}]}]})

    play(app, "no-digits", digits=["5"])

    assert app.requests[1][1]["variables"] == {"digits": ""}
    assert app.requests[1][1]["created_at"] == "2026-05-29T12:00:10.020Z"  # waited 7 s


def test_redirect_asks_its_url_for_the_next_actions():
    redirect = {"actions": [{"redirect": {"url": NEXT_URL}}, {"say": {"text": "never"}}]}
    app = ScriptedApp({ANSWER_URL: [redirect], NEXT_URL: [{"actions": [{"hangup": {}}]}]})

    played = play(app)

    assert [url for url, _, _ in app.requests] == [ANSWER_URL, NEXT_URL]
    assert played.actions_run == ["redirect", "hangup"]


def test_answered_transfer_completes_the_call_and_a_busy_one_ends_it_busy():
    transfer = {"actions": [{"transfer": {"to": "+15550111"}}, {"say": {"text": "never"}}]}

    answered = play(ScriptedApp({ANSWER_URL: [transfer]}))
    busy = play(ScriptedApp({ANSWER_URL: [transfer]}), "busy-transfer")

    assert (answered.final_status, busy.final_status) == ("completed", "busy")
    assert answered.duration_seconds > busy.duration_seconds
    assert busy.actions_skipped == ["say"]


def test_hangup_ends_the_call_and_what_follows_never_runs():
    app = ScriptedApp({ANSWER_URL: [{"actions": [{"hangup": {}}, {"start_recording": {}}]}]})

    played = play(app)

    assert "recording.started" not in events(app)
    assert played.actions_skipped == ["start_recording"]


def test_caller_hanging_up_mid_prompt_ends_the_call_and_completes_the_recording():
    app = ScriptedApp({ANSWER_URL: [SEED_FLOW]})

    played = play(app, "caller-hangs-up")

    assert played.hung_up_by_caller
    assert played.actions_skipped == ["stop_recording"]
    assert events(app)[-2:] == ["call.completed", "recording.completed"]
    assert app.delivered[-1].payload["data"]["duration_seconds"] == 2  # a third of 4 s


def test_recording_that_fails_sends_recording_failed_with_a_reason():
    app = ScriptedApp({ANSWER_URL: [SEED_FLOW]})

    played = play(app, "recording-fails")

    failed = [d for d in app.delivered if d.event == "recording.failed"]
    assert [d.payload["data"]["reason"] for d in failed] == [
        "recording could not be started: media storage unavailable"
    ]
    assert "recording.completed" not in events(app)
    assert played.recordings["rec_call_1_1"].status == "failed"


def test_call_still_in_progress_reports_no_end():
    app = ScriptedApp({ANSWER_URL: [SEED_FLOW]})

    played = play(app, "in-progress")

    assert played.final_status is None
    assert "call.completed" not in events(app)
    assert events(app)[-1] == "recording.started"


@pytest.mark.parametrize(
    "answer",
    [
        Reply(status=500, body=b"oops", latency_ms=1),
        Reply(status=200, body=b"<html>", latency_ms=1),
        Reply(status=200, body=b'{"actions": [{"say": {}}]}', latency_ms=1),
        Reply(status=200, body=b'{"actions": [NaN]}', latency_ms=1),
    ],
    ids=["server-error", "not-json", "invalid-action", "nan"],
)
def test_an_answer_minivoice_cannot_use_sends_answer_url_failed_and_ends_the_call(answer):
    app = ScriptedApp({ANSWER_URL: [answer]})

    played = play(app)

    failed = [d for d in app.delivered if d.event == "answer_url.failed"]
    assert [d.payload["data"]["error"]["code"] for d in failed] == ["answer_url_error"]
    assert played.final_status == "failed"
    assert played.answer_failed


def test_an_unreachable_answer_url_is_reported_as_such():
    app = ScriptedApp({})

    def unreachable(url, body, webhook_id):
        raise Unreachable(f"{url}: connection refused")

    runner = CallRunner(
        call_id="call_1",
        scenario=SCENARIOS["happy"],
        answer_url=ANSWER_URL,
        api_url="http://api.test",
        request_answer=unreachable,
        deliver=app.deliver,
        start=START,
    )
    played = runner.play()

    failed = [d for d in app.delivered if d.event == "answer_url.failed"]
    assert failed[0].payload["data"]["error"]["code"] == "answer_url_unreachable"
    assert played.final_status == "failed"


def test_a_redirect_loop_is_cut_off_instead_of_running_forever():
    loop = {"actions": [{"redirect": {"url": ANSWER_URL}}]}
    app = ScriptedApp({ANSWER_URL: [loop] * 50})

    played = play(app)

    assert len(app.requests) == 20
    assert played.final_status == "failed"


def test_held_deliveries_all_go_out_at_the_end():
    batches = []
    app = ScriptedApp({ANSWER_URL: [SEED_FLOW]})
    runner = CallRunner(
        call_id="call_1",
        scenario=SCENARIOS["happy"],
        answer_url=ANSWER_URL,
        api_url="http://api.test",
        request_answer=app.request_answer,
        deliver=batches.append,
        start=START,
        hold_deliveries=True,
    )

    runner.play()

    assert [len(batch) for batch in batches] == [6]


def test_speed_plays_in_real_time_divided_by_it():
    app = ScriptedApp({ANSWER_URL: [SEED_FLOW]})
    started = time.monotonic()

    played = play(app, speed=20)

    elapsed = time.monotonic() - started
    simulated = (played.ended_at - played.started_at).total_seconds()
    assert simulated / 20 * 0.9 <= elapsed < simulated / 20 + 2


def test_prompts_and_the_callers_words_are_kept_with_the_moment_they_were_said():
    app = ScriptedApp({ANSWER_URL: [SEED_FLOW]})

    played = play(app, caller_says="I want to cancel my appointment")

    prompt, caller = played.spoken
    assert (prompt.speaker, prompt.text) == ("prompt", SEED_FLOW["actions"][1]["say"]["text"])
    assert (caller.speaker, caller.text) == ("caller", "I want to cancel my appointment")
    assert caller.at >= prompt.at + timedelta(seconds=4)  # after the ten-word prompt
    recording = played.recordings["rec_call_1_1"]
    assert recording.started_at < prompt.at < caller.at < recording.stopped_at
    assert recording.duration_seconds == 7  # the prompt's 4 s, the caller's 2.4 s, rounded up


def test_a_caller_who_hangs_up_says_nothing():
    app = ScriptedApp({ANSWER_URL: [SEED_FLOW]})

    played = play(app, "caller-hangs-up", caller_says="hello?")

    assert [spoken.speaker for spoken in played.spoken] == ["prompt"]
