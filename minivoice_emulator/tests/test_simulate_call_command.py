"""`manage.py simulate_call` against the app served on loopback (real HTTP, tasks
in-process; see conftest.app_server), judged from the same database."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from calls.models import AnswerExchange, Call, CallProblem, WebhookEvent
from conftest import OTHER_SECRET
from minivoice_emulator import api
from minivoice_emulator.scenarios import SCENARIOS
from recordings.models import Recording

pytestmark = pytest.mark.django_db(transaction=True)


def simulate(app_server, *args: str) -> str:
    out = StringIO()
    call_command(
        "simulate_call", "--base-url", app_server.url, *args, stdout=out, stderr=StringIO()
    )
    return out.getvalue()


def simulate_json(app_server, *args: str) -> dict:
    return json.loads(simulate(app_server, "--json", *args))


def test_happy_call_prints_its_timeline_and_a_verdict_of_all_matches(app_server):
    output = simulate(app_server)

    assert "recording.started" in output
    assert "recording.completed" in output
    assert "Verdict: every expectation matches." in output
    call = Call.objects.get()
    assert (call.status, call.final_status) == (Call.Status.ENDED, Call.FinalStatus.COMPLETED)
    assert call.last_step == "Call ended (completed) after: Recording started"
    recording = Recording.objects.get()
    assert (recording.status, recording.format) == (Recording.Status.COMPLETED, "wav")
    assert recording.size_bytes == 44 + 16000 * recording.duration_seconds
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"processed"}
    assert not CallProblem.objects.exists()


def test_answer_url_is_asked_by_signed_post_with_a_json_body_and_an_id_of_its_own(app_server):
    simulate(app_server)

    exchange = AnswerExchange.objects.get()
    assert (exchange.method, exchange.response_status, exchange.query_string) == ("POST", 200, "")
    body = json.loads(exchange.request_body)
    assert set(body) == {"call", "variables", "created_at"}
    assert exchange.webhook_id.startswith("msg_")
    assert not WebhookEvent.objects.filter(webhook_id=exchange.webhook_id).exists()


@pytest.mark.parametrize("chaos", [False, True], ids=["in-order", "chaos"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_ends_with_a_verdict_of_all_matches(app_server, scenario, chaos):
    document = simulate_json(
        app_server, "--scenario", scenario, *(["--chaos", "--seed", "3"] if chaos else [])
    )

    ((call,),) = [document["calls"]]
    assert (call["scenario"], call["verdict"], call["mismatches"]) == (scenario, "ok", [])
    assert document["summary"]["lost_deliveries"] == 0
    assert Call.objects.filter(minivoice_id=call["call_id"]).exists()


def test_recording_that_fails_is_stored_failed_with_its_reason_and_a_problem(app_server):
    simulate(app_server, "--scenario", "recording-fails", "--chaos")

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.FAILED
    assert recording.failure_reason.startswith("recording could not be started")
    assert list(CallProblem.objects.values_list("code", flat=True)) == ["recording_failed"]


def test_caller_who_hangs_up_leaves_the_call_ended_early(app_server):
    simulate(app_server, "--scenario", "caller-hangs-up")

    call = Call.objects.get()
    assert call.final_status == Call.FinalStatus.COMPLETED
    assert call.problems.get().code == CallProblem.Code.ENDED_EARLY


def test_invalid_answer_reaches_the_app_as_answer_url_failed(app_server):
    simulate(app_server, "--scenario", "invalid-answer")

    call = Call.objects.get()
    assert call.final_status == Call.FinalStatus.FAILED
    assert call.last_step.startswith(
        "Call ended (failed) after: MiniVoice could not use our answer: answer_url_error"
    )
    assert not AnswerExchange.objects.exists()
    assert WebhookEvent.objects.filter(event_type="answer_url.failed").count() == 1


def test_chaos_delivers_some_webhooks_more_than_once_and_stores_each_once(app_server):
    document = simulate_json(app_server, "--chaos", "--seed", "1", "--calls", "4")

    summary = document["summary"]
    assert summary["deliveries_sent"] > summary["webhooks"]
    assert WebhookEvent.objects.count() == summary["webhooks"]
    assert WebhookEvent.objects.filter(deliveries__gt=1).exists()
    assert {call["verdict"] for call in document["calls"]} == {"ok"}


def test_many_calls_at_once_print_a_summary_with_latencies(app_server):
    output = simulate(app_server, "--calls", "6", "--concurrency", "3", "--chaos")

    assert "verdicts failed" in output
    assert "answer url latency p50/p95/p99 ms" in output
    assert "lost deliveries" in output
    assert Call.objects.count() == 6


def test_json_is_one_document_with_calls_and_a_summary(app_server):
    document = simulate_json(app_server, "--calls", "2")

    assert [set(call) for call in document["calls"]] == [
        {"call_id", "scenario", "verdict", "mismatches"}
    ] * 2
    assert set(document["summary"]) >= {
        "calls",
        "webhooks",
        "lost_deliveries",
        "verdicts_failed",
        "answer_url_ms",
        "webhook_ms",
    }
    assert set(document["summary"]["webhook_ms"]) == {"p50", "p95", "p99"}


def test_digits_reach_the_app_only_through_a_collect(app_server):
    # The app's flow has no collect: the digits are never asked for, and nothing breaks.
    document = simulate_json(app_server, "--digits", "12", "--digits", "3")

    assert document["calls"][0]["verdict"] == "ok"
    assert AnswerExchange.objects.get().variables == {}


def test_a_secret_the_app_does_not_know_is_a_verdict_that_differs_with_exit_1(app_server):
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 1 verdicts differ") as failure:
        call_command(
            "simulate_call",
            "--base-url",
            app_server.url,
            "--secret",
            OTHER_SECRET,
            "--json",
            stdout=out,
            stderr=StringIO(),
        )

    assert failure.value.returncode == 1
    (call,) = json.loads(out.getvalue())["calls"]
    assert call["verdict"] == "mismatch"
    deliveries = next(m for m in call["mismatches"] if m["what"] == "webhook deliveries")
    assert "never acknowledged (HTTP 401)" in deliveries["recorded"]
    assert not WebhookEvent.objects.exists()


@pytest.fixture
def emulator():
    state = api.EmulatorState(api_key="test-key")
    server = api.serve(host="127.0.0.1", port=0, state=state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_api_url_tells_the_emulator_of_the_call_and_its_recording(app_server, emulator):
    document = simulate_json(app_server, "--api-url", emulator.url, "--api-key", "test-key")

    call_id = document["calls"][0]["call_id"]
    recording = Recording.objects.get()
    assert recording.url == f"{emulator.url}/v1/recordings/{recording.minivoice_id}/media"
    known = emulator.state.recordings[recording.minivoice_id]
    assert (known["call_id"], known["duration_seconds"]) == (call_id, recording.duration_seconds)
    assert emulator.state.calls[call_id]["status"] == "completed"


def test_the_app_fetches_the_spoken_audio_the_moment_the_recording_completes(
    app_server, emulator, settings, tmp_path
):
    # The app fetches in-process when recording.completed is processed, before the call
    # is played to its end: the emulator must know the recording by then.
    settings.MINIVOICE_API_URL, settings.MINIVOICE_API_KEY = emulator.url, "test-key"
    settings.MEDIA_ROOT = tmp_path
    settings.MINIVOICE_TRANSCRIBE = True

    simulate(
        app_server,
        *("--api-url", emulator.url, "--api-key", "test-key"),
        *("--caller-says", "I want to cancel my appointment"),
    )

    recording = Recording.objects.get()
    served = emulator.state.media(recording.minivoice_id)
    assert recording.audio_state == Recording.AudioState.STORED
    assert recording.audio_tries == 1  # found at the first try: no 404 first
    assert recording.audio_size_bytes == len(served) == recording.size_bytes
    assert recording.audio_sha256 == hashlib.sha256(served).hexdigest()
    heard = emulator.state.recordings[recording.minivoice_id]["spoken"]
    assert [said["speaker"] for said in heard] == ["prompt", "caller"]
    assert heard[1]["text"] == "I want to cancel my appointment"
    # Transcribed offline from the spoken WAV: the greeting, then the caller.
    assert recording.transcript_state == "done"
    assert "thank you for calling" in recording.transcript.lower()
    assert "cancel my appointment" in recording.transcript.lower()


@pytest.mark.parametrize("words", ["   ", "two\nlines", "x" * 501])
def test_caller_says_takes_words_on_one_line(app_server, words):
    with pytest.raises(CommandError, match="--caller-says takes words") as failure:
        simulate(app_server, "--caller-says", words)

    assert failure.value.returncode == 2
    assert not WebhookEvent.objects.exists()


def test_demo_plays_four_stories_once_on_an_empty_database(app_server):
    first = simulate(app_server, "--demo")
    second = simulate(app_server, "--demo")

    calls = dict(Call.objects.values_list("minivoice_id", "status"))
    assert calls == {
        "call_demo_happy": "ended",
        "call_demo_recording_fails": "ended",
        "call_demo_caller_hangs_up": "ended",
        "call_demo_in_progress": "in_progress",
    }
    assert first.count("as expected") == 4
    assert "Demo calls on the consent IVR: skipped. No flow is named 'Main line'" in first
    assert "skipped, the database has calls already" in second
    assert Call.objects.count() == 4


def free_port_url() -> tuple[socket.socket, str]:
    # A bound socket that does not listen refuses connections; no one else can take it.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_an_app_that_cannot_be_reached_exits_2_with_what_to_do():
    sock, url = free_port_url()
    with sock, pytest.raises(CommandError, match="Is it running") as failure:
        call_command("simulate_call", "--base-url", url, stdout=StringIO())
    assert failure.value.returncode == 2


def test_an_emulator_that_cannot_be_reached_exits_2(app_server):
    sock, url = free_port_url()
    with sock, pytest.raises(CommandError, match="Could not reach the emulator") as failure:
        simulate(app_server, "--api-url", url)
    assert failure.value.returncode == 2
    assert not Call.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base-url", "ftp://x"], "--base-url must be an http"),
        (["--answer-path", "nope"], "--answer-path must be a path"),
        (["--secret", "sekrit"], "must start with 'whsec_'"),
        (["--secret", "whsec_!!"], "must be followed by base64"),
        (["--digits", "12a"], "--digits takes keypad keys"),
        (["--digits", ""], "--digits takes keypad keys"),
        (["--speed", "-1"], "--speed must be from 0"),
        (["--calls", "0"], "--calls must be from 1"),
        (["--concurrency", "65"], "--concurrency must be from 1 to 64"),
        (["--wait", "9999"], "--wait must be from 0"),
        (["--api-url", "not a url"], "--api-url must be an http"),
        (["--demo", "--json"], "--demo prints a line per call"),
    ],
)
def test_bad_arguments_exit_2_in_one_line_and_play_nothing(app_server, args, message):
    with pytest.raises(CommandError, match=message) as failure:
        simulate(app_server, *args)

    assert failure.value.returncode == 2
    assert not WebhookEvent.objects.exists()
    assert not AnswerExchange.objects.exists()


@pytest.mark.parametrize(
    "args",
    [["--scenario", "nope"], ["--calls", "many"], ["--speed", "fast"]],
    ids=["unknown-scenario", "calls-not-a-number", "speed-not-a-number"],
)
def test_arguments_argparse_refuses_play_nothing(app_server, args):
    with pytest.raises(CommandError):
        simulate(app_server, *args)
    assert not WebhookEvent.objects.exists()


def test_no_secret_at_all_exits_2_with_what_to_do(app_server, settings):
    settings.MINIVOICE_WEBHOOK_SECRETS = []
    with pytest.raises(CommandError, match="dev_setup") as failure:
        simulate(app_server)
    assert failure.value.returncode == 2
