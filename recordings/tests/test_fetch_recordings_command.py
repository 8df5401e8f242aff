"""`manage.py fetch_recordings`: completed recordings whose audio is missing are fetched
again from MiniVoice's API (the emulator, over real HTTP); bad arguments change nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from recordings.models import AudioState, Recording
from recordings.tests.conftest import completed_event

pytestmark = pytest.mark.django_db


def fetch(*args: str) -> str:
    out = StringIO()
    call_command("fetch_recordings", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def unavailable(emulator, post_webhook) -> Recording:
    """A recording whose audio MiniVoice did not have (404) when it completed."""
    emulator.add_recording("rec_late")
    emulator.fault("rec_late=404")
    post_webhook(completed_event("rec_late"))
    recording = Recording.objects.get(minivoice_id="rec_late")
    assert recording.audio_state == AudioState.UNAVAILABLE
    return recording


def test_unavailable_audio_is_fetched_again_once_minivoice_has_it(emulator, unavailable):
    emulator.state.faults = []

    output = fetch("--id", "rec_late")

    unavailable.refresh_from_db()
    assert unavailable.audio_state == AudioState.STORED
    assert (unavailable.audio_tries, unavailable.audio_error) == (1, "")
    assert unavailable.audio_sha256 == emulator.sha256("rec_late")
    assert "Fetched 1 recording(s): 1 stored." in output


def test_audio_still_missing_is_said_with_its_reason(emulator, unavailable):
    output = fetch("--state", "unavailable")

    unavailable.refresh_from_db()
    assert unavailable.audio_state == AudioState.UNAVAILABLE
    assert "1 audio unavailable" in output
    assert "rec_late: Try 1: MiniVoice does not have the recording's metadata (HTTP 404)." in output


def test_dry_run_says_what_it_would_fetch_and_changes_nothing(emulator, unavailable):
    emulator.state.faults = []

    output = fetch("--dry-run")

    assert "Would fetch the audio of 1 recording(s)" in output
    unavailable.refresh_from_db()
    assert (unavailable.audio_state, unavailable.audio_tries) == (AudioState.UNAVAILABLE, 1)


def test_stored_audio_is_left_alone(emulator, post_webhook):
    emulator.add_recording("rec_done")
    post_webhook(completed_event("rec_done"))

    output = fetch("--call", "call_123")

    assert "Nothing to fetch" in output
    assert Recording.objects.get().audio_tries == 1


def test_help_names_every_choice():
    out = StringIO()
    with pytest.raises(SystemExit) as done:
        call_command("fetch_recordings", "--help", stdout=out)
    assert done.value.code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "--limit must be from 1"),
        (["--id", "rec_nope"], "No recording with id rec_nope"),
        (["--id", " "], "--id takes a MiniVoice recording id"),
        (["--since", "last tuesday"], "--since takes a date"),
    ],
)
def test_bad_arguments_exit_2_and_change_nothing(emulator, unavailable, args, message):
    emulator.state.faults = []

    with pytest.raises(CommandError, match=message) as failure:
        fetch(*args)

    assert failure.value.returncode == 2
    unavailable.refresh_from_db()
    assert unavailable.audio_state == AudioState.UNAVAILABLE


def test_a_state_it_cannot_fetch_is_refused_by_argparse(emulator):
    with pytest.raises(CommandError):
        fetch("--state", "stored")
