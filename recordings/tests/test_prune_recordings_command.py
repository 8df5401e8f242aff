"""`manage.py prune_recordings`: old recordings' audio leaves storage; their metadata
stays, marked pruned; newer audio and bad arguments change nothing."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from recordings.models import AudioState, Recording
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
