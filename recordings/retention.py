"""Retention: old recordings' audio deleted from storage, and (if asked) their
transcripts' text, their metadata kept, marked pruned (`prune_recordings`, and beat's
daily `prune_old_recordings` when MINIVOICE_PRUNE_RECORDINGS_AFTER is set). In short
batches: the files go first, outside any transaction, then one update marks the batch; a
crash in between leaves rows that say "stored" for files that are gone, which the
listening view answers with a 404 in words and the next prune marks."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from recordings import storage
from recordings.models import AudioState, Recording, TranscriptState

logger = logging.getLogger(__name__)


def recordings_prunable(*, before: datetime) -> QuerySet[Recording]:
    """Recordings made before `before` whose audio is stored, oldest first."""
    return Recording.objects.filter(audio_state=AudioState.STORED, created_at__lt=before).order_by(
        "created_at", "pk"
    )


def recordings_prune_audio(
    *, before: datetime, batch_size: int = 200, on_batch: Callable[[int], None] | None = None
) -> int:
    """Delete the stored audio of recordings made before `before`; how many were pruned."""
    pruned = 0
    while batch := list(
        recordings_prunable(before=before).values_list("pk", "audio_key")[:batch_size]
    ):
        for _, key in batch:
            with contextlib.suppress(FileNotFoundError):  # gone already: prune the row all the same
                storage.audio_delete(key)
        pks = [pk for pk, _ in batch]
        pruned += Recording.objects.filter(pk__in=pks, audio_state=AudioState.STORED).update(
            audio_state=AudioState.PRUNED, audio_key=""
        )
        if on_batch is not None:
            on_batch(len(batch))
    return pruned


def transcripts_prunable(*, before: datetime) -> QuerySet[Recording]:
    """Recordings made before `before` that have a transcript, oldest first."""
    return Recording.objects.filter(
        transcript_state=TranscriptState.DONE, created_at__lt=before
    ).order_by("created_at", "pk")


def recordings_prune_transcripts(
    *, before: datetime, batch_size: int = 200, on_batch: Callable[[int], None] | None = None
) -> int:
    """Delete the transcripts (text and segments) of recordings made before `before`,
    marked pruned; how many were pruned. One short update per batch."""
    pruned = 0
    while pks := list(
        transcripts_prunable(before=before).values_list("pk", flat=True)[:batch_size]
    ):
        pruned += Recording.objects.filter(
            pk__in=pks, transcript_state=TranscriptState.DONE
        ).update(
            transcript_state=TranscriptState.PRUNED,
            transcript="",
            transcript_segments=[],
            transcript_error="",
        )
        if on_batch is not None:
            on_batch(len(pks))
    return pruned


@dataclass(frozen=True)
class Pruned:
    audio: int = 0
    transcripts: int = 0


def recordings_prune_by_settings(*, now: datetime | None = None) -> Pruned:
    """Beat's daily retention: the audio of recordings older than
    MINIVOICE_PRUNE_RECORDINGS_AFTER, and transcripts older than
    MINIVOICE_PRUNE_TRANSCRIPTS_AFTER (or, with MINIVOICE_PRUNE_TRANSCRIPTS, as old as the
    audio pruned); nothing for what is unset."""
    now = now or timezone.now()
    audio_after = settings.MINIVOICE_PRUNE_RECORDINGS_AFTER
    transcripts_after = settings.MINIVOICE_PRUNE_TRANSCRIPTS_AFTER
    if transcripts_after is None and settings.MINIVOICE_PRUNE_TRANSCRIPTS:
        transcripts_after = audio_after
    pruned = Pruned(
        audio=recordings_prune_audio(before=now - audio_after) if audio_after else 0,
        transcripts=recordings_prune_transcripts(before=now - transcripts_after)
        if transcripts_after
        else 0,
    )
    logger.info(
        "Pruned the audio of %s recording(s) (older than %s) and %s transcript(s) (older than %s)",
        pruned.audio,
        audio_after,
        pruned.transcripts,
        transcripts_after,
    )
    return pruned
