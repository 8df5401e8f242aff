"""The entries of a call's timeline: exchanges, events, recordings and the call's own
changes of status, merged in the order they happened."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from calls.models import AnswerExchange, Call, WebhookEvent
from calls.protocol import contract
from calls.recordings_port import RecordingRow, RecordingStatus
from calls.records import (
    CallRecords,
    action_names,
    error_envelope,
    exchange_actions,
    fallback_reason,
    is_fallback,
    offset,
    say_offset,
)
from calls.timeline.types import Entry


def build_entries(records: CallRecords, origin: datetime | None) -> list[Entry]:
    entries = [exchange_entry(exchange, origin) for exchange in records.exchanges]
    entries += event_entries(records.events, origin)
    entries += [
        recording_entry(recording, records.call, origin) for recording in records.recordings
    ]
    if records.call is not None:
        entries += status_entries(records.call, records.events, origin)
    return sorted(entries, key=_order)


# Same instant: the call's own status first (answered, then asked for actions), then our
# answer (we answer before MiniVoice reports what followed), MiniVoice's reports, and the
# end last of all: the end wins a tie.
_RANK = {"status": 0, "answer_url": 1, "webhook": 2, "recording": 3}


def _order(entry: Entry) -> tuple:
    if entry.kind == "status" and entry.state == Call.Status.ENDED:
        rank = 99  # the call's end, after MiniVoice's report of it
    elif entry.event is not None and entry.event.event_type == contract.CALL_COMPLETED:
        rank = 98
    else:
        rank = _RANK[entry.kind]
    return (entry.at, rank, entry.received_at or entry.at)


# -- answer_url ---------------------------------------------------------------------------


def exchange_entry(exchange: AnswerExchange, origin: datetime | None) -> Entry:
    names = action_names(exchange_actions(exchange))
    latency = f"in {exchange.duration_ms:.0f} ms"
    if exchange.response_status != 200:
        code, message = error_envelope(exchange)
        title = f"refused ({exchange.response_status})"
        summary = (
            f"We refused MiniVoice's answer_url request with {exchange.response_status} "
            f"{code or 'error'}: {message or exchange.error or 'no reason given'}"
        ).rstrip(".") + "."
        severity = "warning"
    elif is_fallback(exchange):
        title = " → ".join(names) or "fallback"
        why = fallback_reason(exchange)
        summary = (
            f"Building our answer failed{f' ({why})' if why else ''}, so MiniVoice got the "
            f"fallback ({title}): the caller heard an apology and was hung up on. "
            f"Answered {latency}."
        )
        severity = "error"
    else:
        title = " → ".join(names) or "(no actions)"
        flow = f" from flow {exchange.flow!r}" if exchange.flow else ""
        if exchange.flow_draft:
            flow += " (its draft: a test number)"
        elif exchange.flow_version is not None:
            flow += f" v{exchange.flow_version}"
        if exchange.step:
            flow += f", step {exchange.step!r}"
        summary = f"MiniVoice asked for actions; we answered {latency}{flow}: {title}."
        severity = "info"
    return Entry(
        kind="answer_url",
        at=exchange.at,
        offset_seconds=offset(exchange.at, origin),
        title=title,
        summary=summary,
        severity=severity,
        state=str(exchange.response_status),
        received_at=exchange.received_at,
        latency_ms=exchange.duration_ms,
        exchange=exchange,
    )


# -- Webhook events -----------------------------------------------------------------------


def event_entries(events: Iterable[WebhookEvent], origin: datetime | None) -> list[Entry]:
    events = list(events)
    late = _arrived_out_of_order(events)
    return [event_entry(event, origin, out_of_order=event.pk in late) for event in events]


def _arrived_out_of_order(events: list[WebhookEvent]) -> set[int]:
    """Events that reached us after one that happened later (by MiniVoice's clock)."""
    late, latest = set(), None
    for event in sorted(events, key=lambda event: (event.received_at, event.pk)):
        if latest is not None and event.at < latest:
            late.add(event.pk)
        latest = event.at if latest is None else max(latest, event.at)
    return late


_EVENT_WORDS = {
    contract.CALL_INITIATED: "MiniVoice reports the call initiated.",
    contract.CALL_RINGING: "MiniVoice reports the call ringing.",
    contract.CALL_ANSWERED: "MiniVoice reports the call answered.",
}

_STATE_WORDS = {
    WebhookEvent.State.PENDING: ("Not processed yet.", "warning"),
    WebhookEvent.State.FAILED: ("Processing failed; it will be retried.", "error"),
    WebhookEvent.State.GAVE_UP: ("Processing failed until the retries ran out.", "error"),
    WebhookEvent.State.MALFORMED: ("The body is not a JSON object; nothing was applied.", "error"),
    WebhookEvent.State.IGNORED: ("Stored and not acted on.", "info"),
}


def event_entry(event: WebhookEvent, origin: datetime | None, *, out_of_order: bool) -> Entry:
    summary, severity = _event_words(event)
    words, state_severity = _STATE_WORDS.get(event.state, ("", "info"))
    if words:
        summary += " " + words
    if event.error and event.state != WebhookEvent.State.IGNORED:
        summary += f" Error: {event.error.strip().splitlines()[-1]}"
    elif event.error:
        summary += f" {event.error}"
    if event.deliveries > 1:
        summary += f" Delivered {event.deliveries} times."
    if out_of_order:
        summary += " Arrived after an event that happened later."
    return Entry(
        kind="webhook",
        at=event.at,
        offset_seconds=offset(event.at, origin),
        title=event.event_type or "(no event type)",
        summary=summary,
        severity=_worst(severity, state_severity),
        state=event.state,
        received_at=event.received_at,
        deliveries=event.deliveries,
        out_of_order=out_of_order,
        event=event,
    )


def _event_words(event: WebhookEvent) -> tuple[str, str]:
    data = contract.event_data(event.payload or {})
    recording_id = contract.text(data.get("recording_id"), max_length=128) or "(no id)"
    kind = event.event_type
    if kind == contract.RECORDING_STARTED:
        return f"MiniVoice reports recording {recording_id} started.", "info"
    if kind == contract.RECORDING_COMPLETED:
        seconds = contract.whole_number(data.get("duration_seconds"))
        length = f", {seconds} s long" if seconds is not None else ""
        return f"MiniVoice reports recording {recording_id} completed{length}.", "info"
    if kind == contract.RECORDING_FAILED:
        reason = contract.text(data.get("reason"), max_length=200) or "no reason given"
        return f"MiniVoice reports recording {recording_id} failed: {reason}.", "error"
    if kind == contract.CALL_COMPLETED:
        status = contract.text(data.get("status"), max_length=32) or "status not given"
        return f"MiniVoice reports the call ended ({status}).", "info"
    if kind == contract.ANSWER_URL_FAILED:
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        code = contract.text(error.get("code"), max_length=64) or "unknown error"
        message = contract.text(error.get("message"), max_length=200)
        return f"MiniVoice could not use our answer: {code} {message}".strip() + ".", "error"
    if kind in _EVENT_WORDS:
        return _EVENT_WORDS[kind], "info"
    if not kind:
        return "A delivery with no event type.", "info"
    return f"An event type we do not act on ({kind}).", "info"


_SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}


def _worst(*severities: str) -> str:
    return max(severities, key=_SEVERITY_RANK.__getitem__)


# -- Recordings ---------------------------------------------------------------------------


def recording_entry(recording: RecordingRow, call: Call | None, origin: datetime | None) -> Entry:
    at = recording.started_at or recording.failed_at or recording.completed_at
    at = at or recording.created_at
    name = recording.minivoice_id or "(no id)"
    began = f"started at {say_offset(recording.started_at, origin)}" if recording.started_at else ""
    if recording.status == RecordingStatus.COMPLETED:
        length = (
            f", {recording.duration_seconds} s long"
            if recording.duration_seconds is not None
            else ""
        )
        done = f"completed at {say_offset(recording.completed_at, origin)}{length}"
        summary, severity = f"Recording {name} " + ", ".join(filter(None, [began, done])), "info"
    elif recording.status == RecordingStatus.FAILED:
        reason = recording.failure_reason or "MiniVoice gave no reason"
        summary = f"Recording {name} failed at {say_offset(recording.failed_at, origin)}: {reason}"
        severity = "error"
    elif call is not None and call.ended_at is not None:
        summary = (
            f"Recording {name} {began}; the call ended at {say_offset(call.ended_at, origin)} "
            "and it has neither completed nor failed"
        )
        severity = "warning"
    else:
        summary, severity = f"Recording {name} {began}; not completed yet", "info"
    if recording.status_from_api:
        summary += (
            "; MiniVoice's API said so when asked: no webhook did (recording.completed or "
            "recording.failed was lost)"
        )
    return Entry(
        kind="recording",
        at=at,
        offset_seconds=offset(at, origin),
        title=f"recording {name}",
        summary=summary.replace("  ", " ") + ".",
        severity=severity,
        state=recording.status,
        recording=recording,
    )


# -- The call's own status ----------------------------------------------------------------


def status_entries(call: Call, events: list[WebhookEvent], origin: datetime | None) -> list[Entry]:
    def entry(at: datetime, state: str, title: str, summary: str, severity: str = "info"):
        return Entry(
            kind="status",
            at=at,
            offset_seconds=offset(at, origin),
            title=title,
            summary=summary,
            severity=severity,
            state=state,
        )

    entries = []
    if call.started_at is not None:
        entries.append(entry(call.started_at, "initiated", "initiated", "The call began."))
    rang = [event.at for event in events if event.event_type == contract.CALL_RINGING]
    if rang:
        entries.append(entry(min(rang), "ringing", "ringing", "The call was ringing."))
    if call.answered_at is not None:
        entries.append(entry(call.answered_at, "in_progress", "answered", "The call was answered."))
    if call.ended_at is not None:
        final = call.get_final_status_display().lower() if call.final_status else "status unknown"
        length = f", after {call.duration_seconds} s" if call.duration_seconds is not None else ""
        severity = "error" if call.final_status == Call.FinalStatus.FAILED else "info"
        source = (
            " MiniVoice's API said so when asked: no call.completed webhook came."
            if call.ended_from_api
            else ""
        )
        entries.append(
            entry(
                call.ended_at,
                Call.Status.ENDED,
                f"ended: {final}",
                f"The call ended ({final}{length}).{source}",
                severity,
            )
        )
    return entries
