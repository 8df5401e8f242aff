"""The recordings benchmark's pieces against the real parts: what its calls say, the
app's intake and the emulator over HTTP, the task names on a real Redis, and the timed
transcription through the app's own code."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator

import pytest
import redis
from django.db import connection

from bench import processes
from bench.follow_up import FLOW_FILE
from bench.recordings import calls, emulator, speech, transcribe
from calls.flows.seed import SEED_DOCUMENT
from calls.models import Call
from conftest import TEST_SECRET
from minivoice_emulator import api
from minivoice_emulator.wav import wav_size
from recordings import work
from recordings.models import AudioState, Recording, TranscriptState
from recordings.tests.conftest import API_KEY, completed_event


@pytest.fixture
def emulator_api(settings, tmp_path) -> Iterator[api.EmulatorServer]:
    """The emulator's API in a thread on a free port; the app's settings point at it."""
    server = api.serve(host="127.0.0.1", port=0, state=api.EmulatorState(api_key=API_KEY))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.MINIVOICE_API_URL = server.url
    settings.MINIVOICE_API_KEY = API_KEY
    settings.MEDIA_ROOT = tmp_path / "media"
    yield server
    server.shutdown()
    server.server_close()


CONSENT_PROMPTS = [
    "This call may be recorded. Press 1 to agree, 2 to continue without recording.",
    "Please press 1 or 2.",
    "Thank you. How can we help?",
    "This call will not be recorded.",
    "Goodbye.",
]


def test_the_prompts_are_the_consent_ivrs_and_the_seed_flows_says():
    assert speech.say_texts(json.loads(FLOW_FILE.read_text())) == CONSENT_PROMPTS
    assert speech.say_texts(SEED_DOCUMENT) == [
        "Thank you for calling. This call is recorded for quality and training."
    ]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads the flows with psycopg")
def test_the_shipped_prompts_are_read_from_the_flows_migrate_made():
    settings_dict = connection.settings_dict
    dsn = (
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )

    assert speech.shipped_prompts(dsn) == [*CONSENT_PROMPTS, *speech.say_texts(SEED_DOCUMENT)]


def test_the_prompts_are_laid_out_one_after_another_with_a_gap():
    said, seconds = speech.layout(["one two", "three"], repeats=2, duration_of=lambda t: 2.0)

    assert [(s.offset_seconds, s.text) for s in said] == [
        (0.5, "one two"), (3.5, "three"), (6.5, "one two"), (9.5, "three"),
    ]  # fmt: skip
    assert seconds == 13  # the last ends at 11.5 s; a gap after it; whole seconds
    assert speech.reference_text(said) == "one two three one two three"


def test_the_emulators_voice_takes_time_to_say_a_prompt():
    assert 0.3 < speech.spoken_seconds("Goodbye.") < speech.spoken_seconds(CONSENT_PROMPTS[0])


def test_the_task_names_are_the_apps():
    assert calls.FETCH_TASK == work.FETCH_RECORDING_AUDIO
    assert calls.QUEUE == work.QUEUE


@pytest.mark.django_db(transaction=True)
def test_a_recorded_calls_webhooks_make_a_completed_recording_of_its_wav(live_server):
    call = calls.recorded_call("one", run="t1", duration_seconds=7)

    calls.post_webhooks([call], base_url=live_server.url, secret=TEST_SECRET)

    recording = Recording.objects.get(minivoice_id=call.recording_id)
    assert recording.status == Recording.Status.COMPLETED
    assert (recording.format, recording.duration_seconds) == ("wav", 7)
    assert recording.size_bytes == wav_size(7) == call.size_bytes
    assert recording.audio_state == AudioState.PENDING  # no MiniVoice API: nothing fetched
    assert Call.objects.get(minivoice_id=call.call_id).final_status == "completed"


def test_the_emulator_serves_a_registered_call_and_its_speech(emulator_api):
    said, seconds = speech.layout(["Goodbye."])
    call = calls.recorded_call("two", run="t2", duration_seconds=seconds, said=said)

    calls.register([call], api_url=emulator_api.url, api_key=API_KEY)
    got = emulator.download(
        f"{emulator_api.url}/v1/recordings/{call.recording_id}/media",
        api_key=API_KEY,
        digest=True,
    )

    assert got.size_bytes == call.size_bytes
    wav = emulator_api.state.media(call.recording_id)
    assert got.sha256 == hashlib.sha256(wav).hexdigest()
    frames = wav[44:]
    assert any(frames[16000 : 16000 * 2])  # the word is said after the first half second


def test_fetches_are_asked_by_task_name_on_the_recordings_queue_and_purged(tmp_path):
    with processes.redis_server(tmp_path) as broker_url:
        asked = calls.Work(broker_url)
        try:
            asked.fetch([7, 8])
            waiting = redis.Redis.from_url(broker_url).lrange(calls.QUEUE, 0, -1)
            messages = [json.loads(m)["headers"] for m in waiting]

            assert sorted(m["argsrepr"] for m in messages) == ["(7,)", "(8,)"]
            assert {m["task"] for m in messages} == {work.FETCH_RECORDING_AUDIO}
            assert asked.purge() == 2
            assert redis.Redis.from_url(broker_url).llen(calls.QUEUE) == 0
        finally:
            asked.close()


@pytest.mark.django_db
def test_the_timed_transcription_goes_through_the_apps_code(
    emulator_api, post_webhook, settings, capsys
):
    said, seconds = speech.layout(["Thank you. How can we help?"])
    calls.register(
        [calls.RecordedCall("call_123", "rec_timed", seconds, tuple(said))],
        api_url=emulator_api.url,
        api_key=API_KEY,
    )
    post_webhook(completed_event("rec_timed", seconds=seconds))
    recording = Recording.objects.get()
    assert recording.transcript_state == TranscriptState.OFF
    settings.MINIVOICE_TRANSCRIBE = True

    assert transcribe.main([str(recording.pk)]) == 0

    printed = capsys.readouterr().out
    assert printed.startswith(transcribe.RESULT_PREFIX)
    [timed] = json.loads(printed.removeprefix(transcribe.RESULT_PREFIX))
    assert timed["pk"] == recording.pk
    assert timed["state"] == TranscriptState.DONE
    assert timed["cpu_seconds"] > 0
    assert timed["wall_seconds"] > 0
    recording.refresh_from_db()
    assert "thank you" in recording.transcript.lower()


def test_the_timed_transcription_refuses_what_is_not_a_recordings_pk(capsys):
    assert transcribe.main(["seven"]) == 2
    assert "usage: python -m bench.recordings.transcribe PK" in capsys.readouterr().err
