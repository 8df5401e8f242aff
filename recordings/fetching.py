"""Fetching a recording's audio from MiniVoice into storage: one try at a time.

`recording_fetch_audio` makes one try and says whether another may help; the task
(`recordings.tasks.fetch_recording_audio`) owns the retries and their back-off, and asks
`recording_audio_give_up` when the bounded period is over. The slow part (MiniVoice's
API, the download, the save) runs outside any transaction: the row is claimed first with
a conditional update (`audio_fetching_since`), so two workers never fetch one recording
at once, and the outcome is written after, in one short update.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from calls import minivoice_api
from calls.minivoice_api import FetchError
from recordings import storage
from recordings.models import AudioState, Recording, TranscriptState
from recordings.work import transcript_send

logger = logging.getLogger(__name__)


def fetch_lease() -> timedelta:
    """How long a worker's claim on a recording holds (MINIVOICE_RECORDING_FETCH_LEASE_
    SECONDS): longer than a download takes (an hour's audio is 58 MB). A worker killed
    mid-download leaves its claim, and the next try waits for it to run out."""
    return timedelta(seconds=settings.MINIVOICE_RECORDING_FETCH_LEASE_SECONDS)


@dataclass(frozen=True)
class FetchResult:
    state: str  # the audio's state after this try, or "skipped"/"busy"
    error: str = ""
    retryable: bool = False
    tries: int = 0
    tried_for: timedelta = timedelta(0)
    retry_in: timedelta = timedelta(0)  # "busy": when the other worker's claim runs out


def recording_fetch_audio(*, recording_pk: int) -> FetchResult:
    """One try at fetching the recording's audio into storage (see the module)."""
    recording = Recording.objects.filter(pk=recording_pk).first()
    if recording is None:
        return FetchResult("skipped", error=f"No recording with pk {recording_pk}.")
    if not _fetchable(recording):
        return FetchResult("skipped", error=f"Audio {recording.audio_state}; nothing to fetch.")
    now = timezone.now()
    if not _claim(recording, now=now):
        held_until = (recording.audio_fetching_since or now) + fetch_lease()
        return FetchResult(
            "busy",
            error="Another worker is fetching it.",
            retryable=True,
            retry_in=max(held_until - now, timedelta(0)),
        )
    tries = recording.audio_tries + 1
    tried_for = now - (recording.audio_first_try_at or now)
    try:
        stored = _download_and_save(recording)
    except FetchError as exc:
        return _failed(recording, exc, tries=tries, tried_for=tried_for)
    except Exception as exc:  # a bug must not leave the claim held for the lease
        _failed(recording, FetchError(f"Unexpected error: {exc!r}", retryable=True), tries=tries)
        raise
    key, size, sha256 = stored
    Recording.objects.filter(pk=recording.pk).update(
        audio_state=AudioState.STORED,
        audio_key=key,
        audio_size_bytes=size,
        audio_sha256=sha256,
        audio_error="",
        audio_fetching_since=None,
        audio_stored_at=timezone.now(),
        transcript_state=TranscriptState.PENDING
        if settings.MINIVOICE_TRANSCRIBE
        else TranscriptState.OFF,
    )
    logger.info("Stored recording %s's audio: %s bytes", recording.minivoice_id, size)
    if settings.MINIVOICE_TRANSCRIBE:
        transcript_send(recording.pk)  # no transaction is open here: the row is committed
    return FetchResult(AudioState.STORED, tries=tries, tried_for=tried_for)


def _fetchable(recording: Recording) -> bool:
    return (
        bool(recording.minivoice_id)
        and recording.status == Recording.Status.COMPLETED
        and recording.audio_state == AudioState.PENDING
    )


def _claim(recording: Recording, *, now) -> bool:
    """Take the recording for this try: only if nobody holds it (or their hold is old)."""
    free = Q(audio_fetching_since__isnull=True) | Q(audio_fetching_since__lt=now - fetch_lease())
    claimed = Recording.objects.filter(
        free, pk=recording.pk, audio_state=AudioState.PENDING
    ).update(
        audio_fetching_since=now,
        audio_tries=F("audio_tries") + 1,
        audio_first_try_at=recording.audio_first_try_at or now,
    )
    return claimed == 1


def _download_and_save(recording: Recording) -> tuple[str, int, str]:
    metadata = minivoice_api.recording_metadata(recording.minivoice_id)
    key = storage.audio_key(recording.minivoice_id, metadata.format or recording.format)
    with (
        minivoice_api.media(metadata.media_url) as response,
        storage.spooled(
            response,
            expected_size=metadata.size_bytes,
            limit=settings.MINIVOICE_RECORDING_MAX_BYTES,
        ) as audio,
    ):
        saved = storage.audio_save(key=key, spooled_audio=audio)
    return saved, audio.size_bytes, audio.sha256


def _failed(
    recording: Recording, error: FetchError, *, tries: int, tried_for: timedelta = timedelta(0)
) -> FetchResult:
    """Keep why this try failed; a failure no retry can mend makes the audio unavailable."""
    state = AudioState.PENDING if error.retryable else AudioState.UNAVAILABLE
    said = f"Try {tries}: {error.reason}"
    Recording.objects.filter(pk=recording.pk).update(
        audio_state=state, audio_error=said, audio_fetching_since=None
    )
    logger.warning("Fetching recording %s's audio: %s", recording.minivoice_id, said)
    return FetchResult(
        state, error=said, retryable=error.retryable, tries=tries, tried_for=tried_for
    )


def recording_audio_give_up(*, recording_pk: int, reason: str) -> None:
    """After the last try: the audio is unavailable, and the reason stays with it."""
    Recording.objects.filter(pk=recording_pk, audio_state=AudioState.PENDING).update(
        audio_state=AudioState.UNAVAILABLE,
        audio_error=f"Gave up: {reason}",
        audio_fetching_since=None,
    )


def recordings_fetch_again(*, recordings: QuerySet[Recording]) -> list[int]:
    """Make unavailable (and pending) completed recordings' audio due for a fresh round
    of tries; the pks to send. Stored and pruned audio is left alone."""
    due = recordings.filter(
        status=Recording.Status.COMPLETED,
        audio_state__in=[AudioState.PENDING, AudioState.UNAVAILABLE],
    ).exclude(minivoice_id=None)
    pks = list(due.values_list("pk", flat=True))
    Recording.objects.filter(pk__in=pks).update(
        audio_state=AudioState.PENDING, audio_tries=0, audio_first_try_at=None
    )
    return pks


def recordings_never_asked(*, untouched_for: timedelta) -> list[int]:
    """Completed recordings whose audio was never tried, nor is being tried, though they
    have not changed for `untouched_for`: their fetch was asked for after the batch that
    completed them committed, and the asking was lost (the worker killed between the
    two, the broker away). The pks, oldest first, for the fetch to be asked again; a
    second ask of one that is on its way finds it claimed or stored and does nothing."""
    return list(
        Recording.objects.filter(
            status=Recording.Status.COMPLETED,
            audio_state=AudioState.PENDING,
            audio_tries=0,
            audio_fetching_since__isnull=True,
            updated_at__lt=timezone.now() - untouched_for,
        )
        .exclude(minivoice_id=None)
        .order_by("updated_at", "pk")
        .values_list("pk", flat=True)[:1000]
    )


def recordings_for_fetch(
    *,
    recording_ids: list[str] = (),
    call_id: str = "",
    states: list[str] = (),
    since=None,
) -> QuerySet[Recording]:
    """Completed recordings whose audio is not stored (pending or unavailable, or the
    `states` given), narrowed by every choice given, oldest first."""
    chosen = Recording.objects.filter(
        status=Recording.Status.COMPLETED,
        audio_state__in=states or [AudioState.PENDING, AudioState.UNAVAILABLE],
    ).exclude(minivoice_id=None)
    if recording_ids:
        chosen = chosen.filter(minivoice_id__in=recording_ids)
    if call_id:
        chosen = chosen.filter(call__minivoice_id=call_id)
    if since is not None:
        chosen = chosen.filter(created_at__gte=since)
    return chosen.order_by("created_at", "pk")
