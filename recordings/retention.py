"""Retention: old recordings' audio deleted from storage, their metadata kept, marked
pruned (`prune_recordings`). In short batches: the files go first, outside any
transaction, then one update marks the batch; a crash in between leaves rows that say
"stored" for files that are gone, which the listening view answers with a 404 in words
and the next prune marks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

from django.db.models import QuerySet

from recordings import storage
from recordings.models import AudioState, Recording


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
