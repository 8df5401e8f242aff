"""A call's story in one or two plain sentences, written from its records."""

from __future__ import annotations

import textwrap
from collections import Counter
from datetime import datetime

from django.utils import timezone

from calls.flows.document import CONSENT_DECLINED, CONSENT_GIVEN
from calls.flows.steps import pressed_on
from calls.models import AnswerExchange, Call, WebhookEvent
from calls.protocol import contract
from calls.recordings_port import RecordingRow, RecordingStatus
from calls.records import (
    CallRecords,
    action_names,
    action_params,
    exchange_actions,
    is_fallback,
    say_offset,
)
from calls.records.estimate import run_seconds


def call_story(records: CallRecords, origin: datetime | None) -> str:
    call = records.call
    if call is None:
        return _story_without_call(records)
    answers = [exchange for exchange in records.exchanges if exchange.response_status == 200]
    parts = [_who_and_when(call, origin, records)]
    parts += _how_far(call, answers, records.events, origin)
    parts.append(_consent(answers, origin))
    parts += _recordings(call, records.recordings, answers, origin)
    parts.append(_the_end(call, records.recordings, origin))
    return "; ".join(part for part in parts if part) + "."


def _story_without_call(records: CallRecords) -> str:
    if records.events:
        states = Counter(
            event.get_state_display().split(" (")[0].lower() for event in records.events
        )
        said = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        total = len(records.events) + records.hidden_events
        return (
            f"MiniVoice sent {total} event(s) about call {records.call_id}, "
            f"but none has been applied to a call yet ({said})."
        )
    return (
        f"MiniVoice asked our answer_url about call {records.call_id} "
        f"{_clock(records.exchanges[0].at)}, but no call was recorded "
        "(the request was refused or our database failed)."
    )


def _clock(at: datetime) -> str:
    local = timezone.localtime(at)
    return f"on {local:%Y-%m-%d} at {local:%H:%M:%S} {timezone.get_current_timezone_name()}"


def _who_and_when(call: Call, origin: datetime | None, records: CallRecords) -> str:
    if call.from_number and call.to_number:
        who = f"{call.from_number} called {call.to_number}"
    elif call.to_number:
        who = f"A caller reached {call.to_number}"
    elif call.from_number:
        who = f"{call.from_number} called"
    else:
        who = f"Call {call.minivoice_id}"
    start = origin or call.started_at
    return f"{who} {_clock(start)}" if start else who


def _consent(answers: list[AnswerExchange], origin: datetime | None) -> str:
    """Whether the caller consented to recording: the first step marked either way."""
    for exchange in sorted(answers, key=lambda exchange: exchange.at):
        if exchange.consent in (CONSENT_GIVEN, CONSENT_DECLINED):
            keys = pressed_on(exchange.query_string, exchange.variables or {})
            how = f"pressed {keys} to" if keys else "went on to"
            what = (
                "consent to recording" if exchange.consent == CONSENT_GIVEN else "decline recording"
            )
            return f"{how} {what} at {say_offset(exchange.at, origin)}"
    return ""


def _how_far(
    call: Call, answers: list[AnswerExchange], events: list[WebhookEvent], origin: datetime | None
) -> list[str]:
    failures = [event for event in events if event.event_type == contract.ANSWER_URL_FAILED]
    parts = []
    if not answers:
        answered = call.answered_at or call.final_status == Call.FinalStatus.COMPLETED
        if answered or call.status == Call.Status.IN_PROGRESS:
            parts.append("the call never reached our answer_url")
        return parts
    first = answers[0]
    if is_fallback(first):
        parts.append(
            f"building our answer failed at {say_offset(first.at, origin)}, so the caller heard "
            "an apology and was hung up on"
        )
    else:
        names = " → ".join(action_names(exchange_actions(first)))
        parts.append(f"was answered at {say_offset(first.at, origin)} with {names}")
        prompt = _first_prompt(exchange_actions(first))
        if prompt and not _ended_before(call, first):
            parts.append(f"heard {prompt}")
        elif prompt:
            parts.append(f"did not hear all of {prompt}")
    if failures:
        data = contract.event_data(failures[0].payload or {})
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        code = contract.text(error.get("code"), max_length=64) or "unknown error"
        parts.append(f"MiniVoice could not use our answer ({code})")
    return parts


def _first_prompt(actions: list[dict]) -> str:
    for action, name in zip(actions, action_names(actions), strict=True):
        params = action_params(action)
        if name == "say" and isinstance(params.get("text"), str):
            return f"“{textwrap.shorten(params['text'], width=45, placeholder='…')}”"
        if name == "play":
            return "the recorded prompt"
    return ""


def _ended_before(call: Call, exchange: AnswerExchange) -> bool:
    if call.ended_at is None:
        return False
    return (call.ended_at - exchange.at).total_seconds() < run_seconds(exchange_actions(exchange))


def _recordings(
    call: Call,
    recordings: list[RecordingRow],
    answers: list[AnswerExchange],
    origin: datetime | None,
) -> list[str]:
    if not recordings:
        asked = any(
            "start_recording" in action_names(exchange_actions(exchange)) for exchange in answers
        )
        return ["the recording never started"] if asked else []
    parts = []
    for recording in recordings:
        if recording.status == RecordingStatus.COMPLETED:
            began = (
                f"started at {say_offset(recording.started_at, origin)} and "
                if recording.started_at
                else ""
            )
            length = (
                f" ({recording.duration_seconds} s)"
                if recording.duration_seconds is not None
                else ""
            )
            done = f"completed at {say_offset(recording.completed_at, origin)}{length}"
            source = " (MiniVoice's API said so: its webhook never came)"
            parts.append(
                f"the recording {began}{done}{source if recording.status_from_api else ''}"
            )
        elif recording.status == RecordingStatus.FAILED:
            reason = recording.failure_reason or "MiniVoice gave no reason"
            parts.append(
                f"the recording failed at {say_offset(recording.failed_at, origin)}: {reason}"
            )
        else:
            parts.append(f"recording started at {say_offset(recording.started_at, origin)}")
    return parts


_STILL = {
    Call.Status.INITIATED: "the call has not rung yet",
    Call.Status.RINGING: "the call is still ringing",
    Call.Status.IN_PROGRESS: "the call is still in progress",
    Call.Status.ENDED: "the call has ended",  # ended with no time: MiniVoice gave none
}

_UNANSWERED_ENDS = {
    Call.FinalStatus.BUSY: "the line was busy",
    Call.FinalStatus.NO_ANSWER: "nobody answered",
    Call.FinalStatus.CANCELED: "the caller hung up before it was answered",
    Call.FinalStatus.FAILED: "the call failed",
}


def _the_end(call: Call, recordings: list[RecordingRow], origin: datetime | None) -> str:
    if call.ended_at is None:
        step = f" (last step: {call.last_step})" if call.last_step else ""
        return f"{_STILL[call.status]}{step}"
    when = say_offset(call.ended_at, origin)
    unfinished = any(recording.status == RecordingStatus.STARTED for recording in recordings)
    tail = ", before the recording completed" if unfinished else ""
    if call.ended_from_api:
        when += " (MiniVoice's API said so: call.completed never came)"
    if call.final_status in _UNANSWERED_ENDS:
        return f"{_UNANSWERED_ENDS[call.final_status]}, ending the call at {when}{tail}"
    if call.final_status == Call.FinalStatus.COMPLETED:
        return f"the call ended at {when}{tail}"
    return f"the call ended at {when} (MiniVoice gave no final status){tail}"
