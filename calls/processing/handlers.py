"""Applying one event to its call: a small handler per event type, in a table.

What every event does (the envelope's caller details and status, the caller's step, the
call's end worked out again) is `event_apply`; what only one type does is its handler.
Every transition only moves forward, so an event applied twice changes nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from calls.flows.steps import end_step, event_step
from calls.models import Call, WebhookEvent
from calls.protocol import contract
from calls.recordings_port import recordings
from calls.timeline.merged import TimelineEntry, call_last_step_before


@dataclass(frozen=True)
class Loaded:
    """What a batch has read and locked for its events, so each is read once: the
    recordings they name, and the logs of the calls whose end they may work out again.
    One that is not here is found (or made) by the event that needs it."""

    recordings: Mapping[str, Any]
    timelines: Mapping[str, list[TimelineEntry]]


Handler = Callable[[Call, str, Mapping, datetime, Loaded], None]


def _recording(call: Call, event_type: str, data: Mapping, at: datetime, loaded: Loaded) -> None:
    recordings().apply_event(
        call=call, event_type=event_type, data=data, at=at, locked=loaded.recordings
    )


def _initiated(call: Call, event_type: str, data: Mapping, at: datetime, loaded: Loaded) -> None:
    call.mark_initiated(at)


def _ringing(call: Call, event_type: str, data: Mapping, at: datetime, loaded: Loaded) -> None:
    call.mark_ringing(at)


def _answered(call: Call, event_type: str, data: Mapping, at: datetime, loaded: Loaded) -> None:
    call.mark_answered(at)


def _completed(call: Call, event_type: str, data: Mapping, at: datetime, loaded: Loaded) -> None:
    call.mark_ended(
        at,
        final_status=contract.text(data.get("status")),
        duration_seconds=contract.whole_number(data.get("duration_seconds")),
    )


def _answer_url_failed(
    call: Call, event_type: str, data: Mapping, at: datetime, loaded: Loaded
) -> None:
    """Moves nothing: its step says what MiniVoice could not use."""


HANDLERS: dict[str, Handler] = {
    contract.RECORDING_STARTED: _recording,
    contract.RECORDING_COMPLETED: _recording,
    contract.RECORDING_FAILED: _recording,
    contract.CALL_INITIATED: _initiated,
    contract.CALL_RINGING: _ringing,
    contract.CALL_ANSWERED: _answered,
    contract.CALL_COMPLETED: _completed,
    contract.ANSWER_URL_FAILED: _answer_url_failed,
}


def event_apply(event: WebhookEvent, call: Call, *, loaded: Loaded) -> None:
    """Move the event's call (and recording) forward and note the caller's step.

    `call` is locked, and saved by the caller, as are the recordings in `loaded`.
    """
    data = contract.event_data(event.payload)
    at = event.at
    envelope_call = contract.event_call(event.payload)
    call.fill_details(
        direction=contract.text(envelope_call.get("direction")),
        from_number=contract.text(envelope_call.get("from")),
        to_number=contract.text(envelope_call.get("to")),
    )
    reported = contract.CALL_PROGRESS_STATUSES.get(contract.text(envelope_call.get("status")))
    if reported:
        call.advance_to(reported)
    HANDLERS[event.event_type](call, event.event_type, data, at, loaded)
    step = event_step(event.event_type, data)
    if step:
        call.note_step(step, at)
    if call.ended_at and (event.event_type == contract.CALL_COMPLETED or at <= call.ended_at):
        # The end is the call's last step, and says how far the caller got before it. It
        # is worked out again from the log because delivery order is not event order: news
        # from before the end can arrive after it, and news of the end's own instant
        # (call.answered in the same second) comes before it: the end wins a tie.
        before, _ = call_last_step_before(
            call=call,
            moment=call.ended_at,
            timeline=loaded.timelines.get(call.minivoice_id),
        )
        call.last_step = end_step(call.get_final_status_display(), before)
        call.last_step_at = call.ended_at
