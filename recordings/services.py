from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial

from django.db import transaction

from calls.minivoice_api import RecordingInfo
from calls.models import Call
from calls.protocol import contract
from calls.recordings_port import RecordingStatus
from recordings.models import AudioState, Recording
from recordings.work import audio_fetch_send


def recording_apply_event(
    *,
    call: Call,
    event_type: str,
    data: Mapping,
    at: datetime,
    locked: Mapping[str, Recording] | None = None,
) -> Recording | None:
    """Apply a recording.* event to the recording it names; None if it names none.

    Events come in any order and more than once: each only moves a recording forward
    (see `Recording.advance_to`), so completed-before-started still ends completed.
    `locked` holds recordings the caller has locked already (`recordings_locked`); the
    caller saves those, once however many of its events name them. Any other recording
    is saved here.

    A completion asks for the audio to be fetched, after commit (`recordings.work`): once
    per recording and transaction, and only while its audio is pending.
    """
    recording = (locked or {}).get(recording_id_of(data))
    saved_by_caller = recording is not None
    if recording is None:
        recording = _recording_locked(call=call, data=data, event_type=event_type)
    if recording is None:
        return None
    if event_type == contract.RECORDING_STARTED:
        recording.mark_started(at)
    elif event_type == contract.RECORDING_COMPLETED:
        recording.mark_completed(
            at,
            duration_seconds=contract.whole_number(data.get("duration_seconds")),
            url=contract.text(data.get("url")),
            format=contract.text(data.get("format"), max_length=32),
            size_bytes=contract.whole_number(data.get("size_bytes"), maximum=2**63 - 1),
        )
    else:
        recording.mark_failed(at, reason=contract.text(data.get("reason"), max_length=2000))
    if not saved_by_caller:
        recording.save()
    if event_type == contract.RECORDING_COMPLETED:
        _fetch_after_commit(recording)
    return recording


def recording_apply_api(*, call: Call, info: RecordingInfo, now: datetime) -> bool:
    """What MiniVoice's API says of one of the call's recordings, applied as the webhook
    that never came would have been, and noted as learned from the API (the sweep asks
    for a recording left started). A completion asks for the audio after commit. True
    when the recording moved; a status the API gives that is no end (still started, or
    unknown) changes nothing."""
    recording = (
        Recording.objects.select_for_update()
        .filter(call=call, minivoice_id=info.recording_id)
        .first()
    )
    if recording is None:
        return False
    before = recording.status
    if info.status == RecordingStatus.COMPLETED:
        recording.mark_completed(
            info.completed_at or now,
            duration_seconds=info.duration_seconds,
            url=info.media_url,
            format=info.format,
            size_bytes=info.size_bytes,
        )
    elif info.status == RecordingStatus.FAILED:
        recording.mark_failed(now, reason="MiniVoice's API says the recording failed.")
    if recording.status == before:
        return False
    recording.status_from_api = True
    recording.save()
    if recording.status == RecordingStatus.COMPLETED:
        _fetch_after_commit(recording)
    return True


def _fetch_after_commit(recording: Recording) -> None:
    if recording.audio_state != AudioState.PENDING or getattr(recording, "_fetch_asked", False):
        return
    recording._fetch_asked = True  # a batch's second completion of it asks nothing more
    # After commit: the task must find the recording completed, and the download (slow
    # I/O) must never run inside the batch's transaction.
    transaction.on_commit(partial(audio_fetch_send, [recording.pk]))


_STATUS_OF_EVENT = {
    contract.RECORDING_STARTED: Recording.Status.STARTED,
    contract.RECORDING_COMPLETED: Recording.Status.COMPLETED,
    contract.RECORDING_FAILED: Recording.Status.FAILED,
}


def recording_id_of(data: Mapping) -> str:
    """The recording id an event's data names, or "" if it names none we can store."""
    recording_id = contract.text(data.get("recording_id"))
    return recording_id if len(recording_id) <= contract.RECORDING_ID_MAX_LENGTH else ""


def recordings_locked(*, first_named: Mapping[str, tuple[Call, str]]) -> dict[str, Recording]:
    """The recordings with these MiniVoice ids, locked for this transaction, created if
    new (on the call, and with the status, of the event that first names them).

    Two statements whatever their number, locks taken in order of the id; a worker
    applying a batch of events reads each recording once.
    """
    if not first_named:
        return {}
    ids = sorted(first_named)
    Recording.objects.bulk_create(
        [
            Recording(
                minivoice_id=recording_id,
                call=first_named[recording_id][0],
                status=_STATUS_OF_EVENT[first_named[recording_id][1]],
            )
            for recording_id in ids
        ],
        update_conflicts=True,
        unique_fields=["minivoice_id"],
        update_fields=["minivoice_id"],  # changes nothing; the point is the row lock
    )
    return {
        recording.minivoice_id: recording
        for recording in Recording.objects.filter(minivoice_id__in=ids)
    }


def _recording_locked(*, call: Call, data: Mapping, event_type: str) -> Recording | None:
    recording_id = recording_id_of(data)
    if not recording_id:
        # Only a failure may name no recording (MiniVoice could not start one); a start
        # or completion without a usable id has no recording to attach to.
        if event_type != contract.RECORDING_FAILED:
            return None
        return Recording(call=call, status=Recording.Status.FAILED)
    recording, _ = Recording.objects.get_or_create(
        minivoice_id=recording_id,
        defaults={"call": call, "status": _STATUS_OF_EVENT[event_type]},
    )
    return Recording.objects.select_for_update().get(pk=recording.pk)
