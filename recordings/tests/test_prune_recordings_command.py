"""`manage.py prune_recordings`: old recordings' audio leaves storage, and with
--transcripts their transcripts; their metadata stays, marked pruned; newer recordings
and bad arguments change nothing."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from recordings.models import AudioState, Recording, TranscriptState
from recordings.tests.conftest import completed_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def old_and_new(emulator, post_webhook) -> tuple[Recording, Recording]:
    for recording_id in ("rec_old", "rec_new"):
        emulator.add_recording(recording_id)
        post_webhook(completed_event(recording_id))
    Recording.objects.filter(minivoice_id="rec_old").update(
        created_at=timezone.now() - timedelta(days=200)
    )
    return Recording.objects.get(minivoice_id="rec_old"), Recording.objects.get(
        minivoice_id="rec_new"
    )


SEGMENTS = [{"start_seconds": 0.2, "end_seconds": 1.4, "text": "I want to cancel"}]


def transcribed(*recordings: Recording) -> None:
    """As the transcribing task leaves them (the model itself is not what is tested)."""
    Recording.objects.filter(pk__in=[r.pk for r in recordings]).update(
        transcript_state=TranscriptState.DONE,
        transcript="I want to cancel",
        transcript_segments=SEGMENTS,
    )


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_recordings", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_old_audio_leaves_storage_and_its_metadata_stays_marked_pruned(emulator, old_and_new):
    old, new = old_and_new

    output = prune("--older-than", "180d")

    assert "Deleted the audio of 1 recording(s)" in output
    old.refresh_from_db()
    assert (old.audio_state, old.audio_key) == (AudioState.PRUNED, "")
    assert old.audio_sha256 == emulator.sha256("rec_old")  # what it was stays known
    assert old.status == Recording.Status.COMPLETED
    new.refresh_from_db()
    assert new.audio_state == AudioState.STORED
    assert emulator.stored_files() == [emulator.media_root / new.audio_key]


def test_audio_already_gone_from_storage_is_pruned_all_the_same(emulator, old_and_new):
    old, _ = old_and_new
    (emulator.media_root / old.audio_key).unlink()

    prune("--older-than", "180d")

    old.refresh_from_db()
    assert old.audio_state == AudioState.PRUNED


def test_dry_run_counts_and_changes_nothing(emulator, old_and_new):
    output = prune("--older-than", "180d", "--dry-run")

    assert "Would delete the audio of 1 recording(s)" in output
    assert set(Recording.objects.values_list("audio_state", flat=True)) == {AudioState.STORED}
    assert len(emulator.stored_files()) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "soon"], "--older-than takes a length of time"),
        (["--older-than", "0d"], "--older-than takes a length of time"),
        (["--older-than", "180d", "--batch-size", "0"], "--batch-size must be from 1"),
    ],
)
def test_bad_arguments_exit_2_and_change_nothing(emulator, old_and_new, args, message):
    with pytest.raises(CommandError, match=message) as failure:
        prune(*args)

    assert failure.value.returncode == 2
    assert len(emulator.stored_files()) == 2


def test_with_transcripts_old_transcripts_go_too_and_are_marked_pruned(emulator, old_and_new):
    old, new = old_and_new
    transcribed(old, new)

    output = prune("--older-than", "180d", "--transcripts")

    assert output.startswith("Deleted the audio of 1 recording(s) and the transcripts of 1 ")
    old.refresh_from_db()
    assert (old.transcript_state, old.transcript, old.transcript_segments) == (
        TranscriptState.PRUNED,
        "",
        [],
    )
    assert (old.audio_state, old.status, old.duration_seconds) == (
        AudioState.PRUNED,
        "completed",
        3,
    )
    new.refresh_from_db()
    assert (new.transcript_state, new.transcript) == (TranscriptState.DONE, "I want to cancel")
    assert new.transcript_segments == SEGMENTS


def test_without_transcripts_the_transcripts_stay(emulator, old_and_new):
    old, _ = old_and_new
    transcribed(old)

    output = prune("--older-than", "180d")

    assert "transcripts" not in output
    old.refresh_from_db()
    assert old.audio_state == AudioState.PRUNED
    assert (old.transcript_state, old.transcript) == (TranscriptState.DONE, "I want to cancel")


def test_a_transcript_whose_audio_went_earlier_is_pruned_all_the_same(emulator, old_and_new):
    old, _ = old_and_new
    transcribed(old)
    prune("--older-than", "180d")

    output = prune("--older-than", "180d", "--transcripts")

    assert "audio of 0 recording(s) and the transcripts of 1 " in output
    old.refresh_from_db()
    assert old.transcript_state == TranscriptState.PRUNED


def test_dry_run_with_transcripts_counts_both_and_changes_nothing(emulator, old_and_new):
    old, new = old_and_new
    transcribed(old, new)

    output = prune("--older-than", "180d", "--transcripts", "--dry-run")

    assert "Would delete the audio of 1 recording(s) and the transcripts of 1 made" in output
    assert set(Recording.objects.values_list("transcript_state", flat=True)) == {"done"}
    assert set(Recording.objects.values_list("audio_state", flat=True)) == {AudioState.STORED}


def test_many_are_pruned_in_batches_with_a_progress_bar(emulator, post_webhook, capsys):
    for number in range(5):
        emulator.add_recording(f"rec_{number}")
        post_webhook(completed_event(f"rec_{number}"))
    Recording.objects.update(created_at=timezone.now() - timedelta(days=200))
    transcribed(*Recording.objects.all())

    output = prune("--older-than", "180d", "--transcripts", "--batch-size", "2")

    assert "audio of 5 recording(s) and the transcripts of 5 " in output
    assert set(Recording.objects.values_list("transcript_state", flat=True)) == {"pruned"}
    assert emulator.stored_files() == []
    bar = capsys.readouterr().err
    assert "Pruning" in bar and "10/10" in bar
