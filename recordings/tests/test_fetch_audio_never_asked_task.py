"""Beat's sweep for audio whose fetch was asked for and the ask lost (a worker killed
between committing the batch that completed the recording and asking, the broker away
then): asked again once the recording has been left untouched for two minutes, and
only then; audio already tried, being tried or stored is left alone."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from recordings.models import AudioState, Recording
from recordings.tasks import NEVER_ASKED_AFTER, fetch_audio_never_asked
from recordings.tests.conftest import completed_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def lost_ask(emulator, post_webhook):
    """A completed recording as a lost ask leaves it: pending, never tried, no file."""

    def make(recording_id: str, *, untouched_for: timedelta, **fields) -> Recording:
        emulator.add_recording(recording_id, spoken=[(0.5, "Thank you for calling")])
        post_webhook(completed_event(recording_id, call_id=f"call_{recording_id}"))
        recording = Recording.objects.get(minivoice_id=recording_id)
        (emulator.media_root / recording.audio_key).unlink()
        lost = {
            "audio_state": AudioState.PENDING,
            "audio_key": "",
            "audio_sha256": "",
            "audio_size_bytes": None,
            "audio_tries": 0,
            "audio_first_try_at": None,
            "updated_at": timezone.now() - untouched_for,
        }
        Recording.objects.filter(pk=recording.pk).update(**(lost | fields))
        return recording

    return make


def test_audio_never_tried_for_two_minutes_is_fetched(emulator, lost_ask):
    recording = lost_ask("rec_lost", untouched_for=NEVER_ASKED_AFTER + timedelta(seconds=5))

    assert fetch_audio_never_asked() == 1

    recording.refresh_from_db()
    assert recording.audio_state == AudioState.STORED
    assert recording.audio_tries == 1
    assert recording.audio_sha256 == hashlib.sha256(emulator.media("rec_lost")).hexdigest()
    assert emulator.stored_files() == [emulator.media_root / recording.audio_key]


def test_audio_tried_being_tried_or_recent_is_left_alone(emulator, lost_ask):
    old = NEVER_ASKED_AFTER + timedelta(seconds=5)
    recent = lost_ask("rec_recent", untouched_for=NEVER_ASKED_AFTER - timedelta(seconds=30))
    tried = lost_ask("rec_tried", untouched_for=old, audio_tries=1)
    claimed = lost_ask("rec_claimed", untouched_for=old, audio_fetching_since=timezone.now())

    assert fetch_audio_never_asked() == 0

    for recording in (recent, tried, claimed):
        recording.refresh_from_db()
        assert (recording.audio_state, recording.audio_key) == (AudioState.PENDING, "")
    assert emulator.stored_files() == []


def test_beat_runs_the_sweep_every_minute_on_the_recordings_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["fetch-audio-never-asked"]

    assert entry == {"task": fetch_audio_never_asked.name, "schedule": 60.0}
    assert fetch_audio_never_asked.name == "recordings.tasks.fetch_audio_never_asked"
    assert settings.CELERY_TASK_ROUTES["recordings.tasks.*"] == {"queue": "recordings"}
