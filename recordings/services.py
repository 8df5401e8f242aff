from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from calls import contract
from calls.models import Call
from recordings.models import Recording


def recording_apply_event(*, call: Call, event_type: str, data: Mapping, at: datetime) -> str:
    """Apply a recording.* event to the recording it names; return the step, in words.

    Events come in any order and more than once: each only moves a recording forward
    (see `Recording.advance_to`), so completed-before-started still ends completed.
    """
    recording = _recording_locked(call=call, data=data, event_type=event_type)
    if event_type == contract.RECORDING_STARTED:
        recording.mark_started(at)
    elif event_type == contract.RECORDING_COMPLETED:
        recording.mark_completed(
            at,
            duration_seconds=contract.whole_number(data.get("duration_seconds")),
            url=contract.text(data.get("url"), max_length=1024),
            format=contract.text(data.get("format"), max_length=32),
            size_bytes=contract.whole_number(data.get("size_bytes"), maximum=2**63 - 1),
        )
    else:
        reason = contract.text(data.get("reason"), max_length=2000)
        recording.mark_failed(at, reason=reason)
    recording.save()
    return recording


_STATUS_OF_EVENT = {
    contract.RECORDING_STARTED: Recording.Status.STARTED,
    contract.RECORDING_COMPLETED: Recording.Status.COMPLETED,
    contract.RECORDING_FAILED: Recording.Status.FAILED,
}


def _recording_locked(*, call: Call, data: Mapping, event_type: str) -> Recording:
    recording_id = contract.text(data.get("recording_id"), max_length=128)
    if not recording_id:
        # recording.failed may name no recording (MiniVoice could not start one).
        return Recording(call=call, status=_STATUS_OF_EVENT[event_type])
    recording, _ = Recording.objects.get_or_create(
        minivoice_id=recording_id,
        defaults={"call": call, "status": _STATUS_OF_EVENT[event_type]},
    )
    return Recording.objects.select_for_update().get(pk=recording.pk)
