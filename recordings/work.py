"""The recordings app's door to the workers: its tasks asked for by name.

Nothing but Celery imports `recordings.tasks` (an import-linter contract says so). With
no broker (a laptop, the tests) the named task runs right here, through
`calls.dispatch.run_here`, whose one lock keeps Celery's autodiscovery from racing
itself between apps and threads. Send after commit (`transaction.on_commit`), so a task
never looks for a row that is not there yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings

from calls.dispatch import run_here
from minivoice_site.celery import app as celery_app

logger = logging.getLogger(__name__)

FETCH_RECORDING_AUDIO = "recordings.tasks.fetch_recording_audio"
TRANSCRIBE_RECORDING = "recordings.tasks.transcribe_recording"
QUEUE = "recordings"


def audio_fetch_send(recording_pks: Iterable[int]) -> int:
    """Ask for these recordings' audio to be fetched; how many were asked for.

    Nothing is asked while MINIVOICE_API_URL is unset: there is nowhere to fetch from, and
    the recordings stay pending for `fetch_recordings` once it is set.
    """
    if not settings.MINIVOICE_API_URL:
        return 0
    sent = 0
    for recording_pk in recording_pks:
        if celery_app.conf.task_always_eager:
            run_here(FETCH_RECORDING_AUDIO, recording_pk)
        else:
            try:
                celery_app.send_task(FETCH_RECORDING_AUDIO, args=(recording_pk,), queue=QUEUE)
            except Exception:  # any broker error: the recording stays pending, logged
                logger.exception("Could not ask for recording %s's audio", recording_pk)
                continue
        sent += 1
    return sent


def transcript_send(recording_pk: int) -> None:
    """Ask for a stored recording's audio to be transcribed."""
    if celery_app.conf.task_always_eager:
        run_here(TRANSCRIBE_RECORDING, recording_pk)
        return
    try:
        celery_app.send_task(TRANSCRIBE_RECORDING, args=(recording_pk,), queue=QUEUE)
    except Exception:  # any broker error: the transcript stays pending, logged
        logger.exception("Could not ask for recording %s's transcript", recording_pk)
