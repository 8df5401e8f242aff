"""recording.completed fetches the audio from MiniVoice's API (the emulator, over real
HTTP on loopback) into storage: the real webhook door, processing in-process, the task
asked for by name after commit. Each of the emulator's faults ends in a clear state, with
nothing half-written in storage."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import minivoice_event
from recordings import storage
from recordings.fetching import recording_fetch_audio, recordings_fetch_again
from recordings.models import AudioState, Recording
from recordings.tests.conftest import completed_event

pytestmark = pytest.mark.django_db


def test_completed_recording_audio_is_stored_with_its_size_and_sha256(emulator, post_webhook):
    emulator.add_recording("rec_ok", spoken=[(0.5, "Thank you for calling")])

    response = post_webhook(completed_event("rec_ok"))

    assert response.status_code == 202
    recording = Recording.objects.get(minivoice_id="rec_ok")
    assert recording.audio_state == AudioState.STORED
    assert (recording.audio_tries, recording.audio_error) == (1, "")
    media = emulator.media("rec_ok")
    assert recording.audio_size_bytes == len(media) == 44 + 16000 * 3
    assert recording.audio_sha256 == hashlib.sha256(media).hexdigest()
    assert recording.audio_key == storage.audio_key("rec_ok", "wav")
    assert (emulator.media_root / recording.audio_key).read_bytes() == media
    assert emulator.stored_files() == [emulator.media_root / recording.audio_key]


def test_fault_404_makes_the_audio_unavailable_after_one_try(emulator, post_webhook):
    emulator.add_recording("rec_gone")
    emulator.fault("rec_gone=404")

    post_webhook(completed_event("rec_gone"))

    recording = Recording.objects.get(minivoice_id="rec_gone")
    assert recording.audio_state == AudioState.UNAVAILABLE
    assert recording.audio_tries == 1  # no retry storm
    assert "HTTP 404" in recording.audio_error
    assert emulator.stored_files() == []


def test_fault_500_once_is_retried_and_then_stored(emulator, post_webhook):
    emulator.add_recording("rec_flaky")
    emulator.fault("rec_flaky=500-once")

    post_webhook(completed_event("rec_flaky"))

    recording = Recording.objects.get(minivoice_id="rec_flaky")
    assert recording.audio_state == AudioState.STORED
    assert recording.audio_tries == 3  # the metadata's 500, then the media's, then both fine
    assert recording.audio_sha256 == emulator.sha256("rec_flaky")


def test_fault_slow_past_the_timeout_is_retried_then_unavailable(emulator, post_webhook):
    emulator.add_recording("rec_slow")
    emulator.fault("rec_slow=slow")

    post_webhook(completed_event("rec_slow"))

    recording = Recording.objects.get(minivoice_id="rec_slow")
    assert recording.audio_state == AudioState.UNAVAILABLE
    assert recording.audio_tries == 3  # MINIVOICE_RECORDING_FETCH_MAX_TRIES in the fixture
    assert recording.audio_error.startswith("Gave up: Try 3: MiniVoice did not answer")
    assert emulator.stored_files() == []


@pytest.mark.parametrize(
    ("fault", "said"),
    [("truncated", "cut off"), ("size-mismatch", "MiniVoice said the audio is")],
)
def test_a_body_short_of_its_promise_is_retried_and_never_stored(
    emulator, post_webhook, fault, said
):
    emulator.add_recording("rec_short")
    emulator.fault(f"rec_short={fault}")

    post_webhook(completed_event("rec_short"))

    recording = Recording.objects.get(minivoice_id="rec_short")
    assert recording.audio_state == AudioState.UNAVAILABLE
    assert recording.audio_tries == 3
    assert said in recording.audio_error
    assert (recording.audio_key, recording.audio_sha256, recording.audio_size_bytes) == (
        "",
        "",
        None,
    )
    assert emulator.stored_files() == []


def test_media_that_is_not_audio_is_stored_as_served(emulator, post_webhook):
    emulator.add_recording("rec_odd")
    emulator.fault("rec_odd=not-audio")

    post_webhook(completed_event("rec_odd"))

    recording = Recording.objects.get(minivoice_id="rec_odd")
    assert recording.audio_state == AudioState.STORED
    stored = (emulator.media_root / recording.audio_key).read_bytes()
    assert not stored.startswith(b"RIFF")
    assert recording.audio_sha256 == hashlib.sha256(stored).hexdigest()


def test_a_completion_delivered_twice_fetches_once(emulator, post_webhook):
    emulator.add_recording("rec_twice")

    post_webhook(completed_event("rec_twice"))
    post_webhook(completed_event("rec_twice"))

    assert Recording.objects.get(minivoice_id="rec_twice").audio_tries == 1


def test_without_an_api_url_nothing_is_fetched_and_the_audio_stays_pending(
    emulator, post_webhook, settings
):
    settings.MINIVOICE_API_URL = ""
    emulator.add_recording("rec_nowhere")

    post_webhook(completed_event("rec_nowhere"))

    recording = Recording.objects.get(minivoice_id="rec_nowhere")
    assert (recording.audio_state, recording.audio_tries) == (AudioState.PENDING, 0)


def test_a_started_recording_has_nothing_to_fetch(emulator, post_webhook):
    post_webhook(minivoice_event("recording.started", recording_id="rec_new", status="started"))

    result = recording_fetch_audio(recording_pk=Recording.objects.get().pk)

    assert result.state == "skipped"
    assert Recording.objects.get().audio_tries == 0


def test_a_recording_another_worker_holds_is_left_alone(emulator, post_webhook, settings):
    settings.MINIVOICE_API_URL = ""  # the completion asks nothing; the test tries itself
    emulator.add_recording("rec_held")
    post_webhook(completed_event("rec_held"))
    settings.MINIVOICE_API_URL = emulator.server.url
    Recording.objects.update(audio_fetching_since=timezone.now() - timedelta(seconds=5))

    result = recording_fetch_audio(recording_pk=Recording.objects.get().pk)

    assert result.state == "busy"
    # Tried again when the claim runs out (MINIVOICE_RECORDING_FETCH_LEASE_SECONDS: 300).
    assert timedelta(seconds=294) < result.retry_in <= timedelta(seconds=295)
    assert Recording.objects.get().audio_tries == 0
    assert emulator.stored_files() == []


def test_a_retry_replaces_its_own_file_and_no_other(emulator, post_webhook):
    for recording_id in ("rec_a", "rec_b"):
        emulator.add_recording(recording_id)
        post_webhook(completed_event(recording_id))
    before = {path: path.read_bytes() for path in emulator.stored_files()}
    first = Recording.objects.get(minivoice_id="rec_a")
    Recording.objects.filter(pk=first.pk).update(audio_state=AudioState.UNAVAILABLE)

    recordings_fetch_again(recordings=Recording.objects.filter(pk=first.pk))
    result = recording_fetch_audio(recording_pk=first.pk)

    assert result.state == AudioState.STORED
    assert {path: path.read_bytes() for path in emulator.stored_files()} == before
    first.refresh_from_db()
    assert first.audio_key == storage.audio_key("rec_a", "wav")


def test_storage_that_fails_leaves_no_file_and_the_reason(emulator, post_webhook, settings):
    emulator.media_root.parent.mkdir(parents=True, exist_ok=True)
    emulator.media_root.write_text("a file where the media folder should be")
    emulator.add_recording("rec_nowhere_to_go")

    post_webhook(completed_event("rec_nowhere_to_go"))

    recording = Recording.objects.get(minivoice_id="rec_nowhere_to_go")
    assert recording.audio_state == AudioState.UNAVAILABLE
    assert "Could not write the audio to storage" in recording.audio_error
    assert emulator.media_root.read_text().startswith("a file where")


@pytest.mark.parametrize(
    ("recording_id", "key"),
    [
        ("rec_1", "rec_1"),
        ("../../etc/passwd", "etc_passwd"),
        ("rec 1/ä", "rec_1"),
    ],
)
def test_a_storage_key_is_the_recordings_id_made_safe_and_its_own(recording_id, key):
    made = storage.audio_key(recording_id, "wav")

    assert made.startswith("recordings/") and made.endswith(".wav")
    assert f"/{key}-" in made
    assert ".." not in made
    assert storage.audio_key(recording_id, "wav") == made
    assert storage.audio_key(recording_id + "x", "wav") != made
