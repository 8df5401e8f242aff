from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from calls import contract
from calls.models import Call
from recordings.models import Recording


def recording_apply_event(
    *, call: Call, event_type: str, data: Mapping, at: datetime
) -> Recording | None:
    """Apply a recording.* event to the recording it names; None if it names none.

    Events come in any order and more than once: each only moves a recording forward
    (see `Recording.advance_to`), so completed-before-started still ends completed.
    """
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
    recording.save()
    return recording


_STATUS_OF_EVENT = {
    contract.RECORDING_STARTED: Recording.Status.STARTED,
    contract.RECORDING_COMPLETED: Recording.Status.COMPLETED,
    contract.RECORDING_FAILED: Recording.Status.FAILED,
}


def _recording_locked(*, call: Call, data: Mapping, event_type: str) -> Recording | None:
    recording_id = contract.text(data.get("recording_id"))
    if not recording_id or len(recording_id) > contract.RECORDING_ID_MAX_LENGTH:
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
