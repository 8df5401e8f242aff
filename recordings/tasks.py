"""Celery tasks of the recordings app, on the `recordings` queue (CELERY_TASK_ROUTES):
thin wrappers that fetch by id and call a service. Only Celery imports them; the app asks
for them by name (`recordings.work`).

The fetch task owns its retries: a try that may succeed later is retried with back-off
until MINIVOICE_RECORDING_FETCH_RETRY_MINUTES or MINIVOICE_RECORDING_FETCH_MAX_TRIES is
spent, then the audio is marked unavailable with the last reason.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from recordings.fetching import (
    recording_audio_give_up,
    recording_fetch_audio,
    recordings_never_asked,
)
from recordings.retention import recordings_prune_by_settings
from recordings.transcribing import recording_transcribe
from recordings.work import audio_fetch_send

# Back-off between tries: 10 s, doubling, at most 4 minutes. Kept under the broker's
# visibility timeout (5 minutes), past which Redis would hand a waiting retry to a
# second worker.
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 240
# A completed recording whose audio nobody tried this long after it last changed lost its
# ask (beat's sweep asks again): longer than the recordings queue takes to start a fetch.
NEVER_ASKED_AFTER = timedelta(minutes=2)
# Another worker's claim: looked at again when it runs out (a worker killed mid-download
# leaves one), a few times at most, so a duplicate of a task never spins.
BUSY_MAX_RETRIES = 5


def retry_delay(retries: int) -> int:
    return min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2**retries)


@shared_task(bind=True, acks_late=True, max_retries=None)
def fetch_recording_audio(self, recording_pk: int) -> str:
    """Fetch a recording's audio into storage; retried with back-off, then given up."""
    result = recording_fetch_audio(recording_pk=recording_pk)
    if not result.retryable:
        return result.state
    if result.state == "busy":  # another worker holds it; look again when its claim ends
        if self.request.retries < BUSY_MAX_RETRIES and not self.request.is_eager:
            raise self.retry(countdown=result.retry_in.total_seconds() + 1)
        return result.state
    delay = retry_delay(self.request.retries)
    window = timedelta(minutes=settings.MINIVOICE_RECORDING_FETCH_RETRY_MINUTES)
    if (
        result.tries < settings.MINIVOICE_RECORDING_FETCH_MAX_TRIES
        and result.tried_for + timedelta(seconds=delay) <= window
    ):
        raise self.retry(countdown=delay)
    recording_audio_give_up(recording_pk=recording_pk, reason=result.error)
    return "unavailable"


@shared_task(
    acks_late=True,
    # The database away for a moment (a restart) as the transcript is read or kept: its
    # failure could not even be written, so the transcript would stay pending for good.
    # Tried again once it is back; any other failure is kept on the recording.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,  # 2, 4, 8 … seconds
    retry_backoff_max=60,
    max_retries=6,
)
def transcribe_recording(recording_pk: int) -> str:
    """Transcribe a stored recording; a failure is kept on it, never retried blindly."""
    return recording_transcribe(recording_pk=recording_pk)


@shared_task
def prune_old_recordings() -> dict:
    """Run by beat daily when MINIVOICE_PRUNE_RECORDINGS_AFTER or
    MINIVOICE_PRUNE_TRANSCRIPTS_AFTER is set: old audio and transcripts deleted, each by
    its own setting, metadata kept."""
    pruned = recordings_prune_by_settings()
    return {"audio": pruned.audio, "transcripts": pruned.transcripts}


@shared_task
def fetch_audio_never_asked() -> int:
    """Run by beat every minute: ask again for the audio of completed recordings whose
    fetch was never tried (the ask was lost); how many were asked for."""
    return audio_fetch_send(recordings_never_asked(untouched_for=NEVER_ASKED_AFTER))
