"""Beat's nightly retention: with MINIVOICE_PRUNE_RECORDINGS_AFTER set, beat's schedule
names `recordings.tasks.prune_old_recordings`, which prunes as `prune_recordings` does
(transcripts too with MINIVOICE_PRUNE_TRANSCRIPTS); unset, nothing is scheduled and the
task prunes nothing. Transcripts can have a retention of their own,
MINIVOICE_PRUNE_TRANSCRIPTS_AFTER, their audio kept (`prune_recordings --transcripts-only`)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from minivoice_emulator.tests.processes import environment, manage
from recordings.models import AudioState, Recording, TranscriptState
from recordings.tasks import prune_old_recordings
from recordings.tests.conftest import completed_event

SCHEDULE = (
    "import json; from django.conf import settings; "
    "print(json.dumps(settings.CELERY_BEAT_SCHEDULE.get('prune-old-recordings'), default=str))"
)


def beat_entry(tmp_path, **variables: str) -> dict | None:
    env = environment(f"sqlite:///{tmp_path / 'db.sqlite3'}", **variables)
    result = manage("shell", "--no-imports", "-c", SCHEDULE, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_with_the_setting_beat_runs_the_task_by_name_every_night(tmp_path):
    entry = beat_entry(tmp_path, MINIVOICE_PRUNE_RECORDINGS_AFTER="180d")

    assert entry["task"] == prune_old_recordings.name == "recordings.tasks.prune_old_recordings"
    assert entry["schedule"] == "<crontab: 30 3 * * * (m/h/dM/MY/d)>"


def test_without_the_setting_beat_schedules_no_pruning(tmp_path):
    assert beat_entry(tmp_path, MINIVOICE_PRUNE_RECORDINGS_AFTER="") is None


def test_a_setting_that_is_no_length_of_time_stops_start_up_naming_it(tmp_path):
    env = environment(
        f"sqlite:///{tmp_path / 'db.sqlite3'}", MINIVOICE_PRUNE_RECORDINGS_AFTER="6mo"
    )

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "MINIVOICE_PRUNE_RECORDINGS_AFTER must be a length of time" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def old_and_new(emulator, post_webhook) -> tuple[Recording, Recording]:
    for recording_id in ("rec_old", "rec_new"):
        emulator.add_recording(recording_id)
        post_webhook(completed_event(recording_id))
    Recording.objects.update(transcript_state=TranscriptState.DONE, transcript="Hello")
    Recording.objects.filter(minivoice_id="rec_old").update(
        created_at=timezone.now() - timedelta(days=200)
    )
    return Recording.objects.get(minivoice_id="rec_old"), Recording.objects.get(
        minivoice_id="rec_new"
    )


@pytest.mark.django_db
def test_the_task_prunes_old_audio_and_keeps_transcripts_by_default(
    emulator, old_and_new, settings
):
    settings.MINIVOICE_PRUNE_RECORDINGS_AFTER = timedelta(days=180)
    old, new = old_and_new

    assert prune_old_recordings() == {"audio": 1, "transcripts": 0}

    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.audio_state, old.transcript_state) == (AudioState.PRUNED, TranscriptState.DONE)
    assert (new.audio_state, new.transcript_state) == (AudioState.STORED, TranscriptState.DONE)
    assert emulator.stored_files() == [emulator.media_root / new.audio_key]


@pytest.mark.django_db
def test_the_task_prunes_old_transcripts_too_when_set(emulator, old_and_new, settings):
    settings.MINIVOICE_PRUNE_RECORDINGS_AFTER = timedelta(days=180)
    settings.MINIVOICE_PRUNE_TRANSCRIPTS = True
    old, new = old_and_new

    assert prune_old_recordings() == {"audio": 1, "transcripts": 1}

    old.refresh_from_db()
    assert (old.transcript_state, old.transcript) == (TranscriptState.PRUNED, "")
    new.refresh_from_db()
    assert (new.transcript_state, new.transcript) == (TranscriptState.DONE, "Hello")


@pytest.mark.django_db
def test_unset_the_task_prunes_nothing(emulator, old_and_new, settings):
    settings.MINIVOICE_PRUNE_RECORDINGS_AFTER = None
    settings.MINIVOICE_PRUNE_TRANSCRIPTS = True

    assert prune_old_recordings() == {"audio": 0, "transcripts": 0}

    assert set(Recording.objects.values_list("audio_state", flat=True)) == {AudioState.STORED}
    assert len(emulator.stored_files()) == 2


# -- Transcripts on a retention of their own (MINIVOICE_PRUNE_TRANSCRIPTS_AFTER) ----------


def states(recording) -> tuple[str, str]:
    recording.refresh_from_db()
    return recording.audio_state, recording.transcript_state


@pytest.mark.django_db
def test_the_task_prunes_old_transcripts_by_their_own_setting_and_keeps_the_audio(
    emulator,
    old_and_new,
    settings,
):
    settings.MINIVOICE_PRUNE_RECORDINGS_AFTER = None
    settings.MINIVOICE_PRUNE_TRANSCRIPTS_AFTER = timedelta(days=30)
    old, new = old_and_new

    assert prune_old_recordings() == {"audio": 0, "transcripts": 1}

    assert states(old) == (AudioState.STORED, TranscriptState.PRUNED)
    assert states(new) == (AudioState.STORED, TranscriptState.DONE)
    assert len(emulator.stored_files()) == 2


@pytest.mark.django_db
def test_transcripts_and_audio_go_each_by_their_own_age(
    emulator,
    old_and_new,
    settings,
):
    settings.MINIVOICE_PRUNE_RECORDINGS_AFTER = timedelta(days=365)
    settings.MINIVOICE_PRUNE_TRANSCRIPTS_AFTER = timedelta(days=30)
    old, _ = old_and_new

    assert prune_old_recordings() == {"audio": 0, "transcripts": 1}
    assert states(old) == (AudioState.STORED, TranscriptState.PRUNED)


@pytest.mark.django_db
def test_the_command_prunes_only_transcripts_when_asked(emulator, old_and_new):
    old, new = old_and_new
    out = StringIO()

    call_command("prune_recordings", "--older-than", "30d", "--transcripts-only", stdout=out)

    assert states(old) == (AudioState.STORED, TranscriptState.PRUNED)
    assert states(new) == (AudioState.STORED, TranscriptState.DONE)
    assert "Deleted the transcripts of 1 recording(s) made before" in out.getvalue()
