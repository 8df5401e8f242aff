"""Problem checks: what went wrong on a call, said for support.

`find_problems` is a plain function over a call's records. `call_problems_refresh` stores
its verdict (one `CallProblem` row per code, added, updated or deleted so the rows always
say what the checks say now); it runs when a call's events are processed, and
`calls.problems.sweep` runs it from beat for calls where only time passing can tell.

Grace periods are counted on MiniVoice's clock (the `created_at` of its requests and
events; ours only where it gave none), so a delivery that arrives late still gives the
verdict its timing deserves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from calls.models import AnswerExchange, Call, CallProblem, WebhookEvent
from calls.protocol import contract
from calls.recordings_port import RecordingStatus
from calls.records import (
    CallRecords,
    action_names,
    exchange_actions,
    fallback_reason,
    first_at,
    is_fallback,
    say_offset,
)
from calls.records.estimate import HANDS_BACK, run_seconds

logger = logging.getLogger(__name__)

Code = CallProblem.Code
ERROR, WARNING = CallProblem.Severity.ERROR, CallProblem.Severity.WARNING


@dataclass(frozen=True)
class Found:
    code: str
    severity: str
    message: str


def find_problems(*, records: CallRecords, now: datetime) -> list[Found]:
    """Every problem the records show, in the order of `CallProblem.Code`."""
    # What time it is for this call: MiniVoice's latest word if it runs ahead of ours.
    clock = max(
        [now]
        + [exchange.at for exchange in records.exchanges]
        + [event.at for event in records.events]
    )
    origin = _origin(records)
    checks = (
        _recording_not_started,
        _recording_not_completed,
        _recording_failed,
        _answer_url_failed,
        _call_stuck,
        _no_answer_url,
        _ended_early,
        _processing_failed,
        _recording_before_consent,
        _recording_after_consent_declined,
    )
    found = [check(records, clock, origin) for check in checks]
    return [problem for problem in found if problem is not None]


def _origin(records: CallRecords) -> datetime | None:
    if records.call is not None and records.call.started_at is not None:
        return records.call.started_at
    return first_at(*(e.at for e in records.exchanges), *(e.at for e in records.events))


def _answers(records: CallRecords) -> list[AnswerExchange]:
    return [exchange for exchange in records.exchanges if exchange.response_status == 200]


def _events(records: CallRecords, *types: str) -> list[WebhookEvent]:
    return [event for event in records.events if event.event_type in types]


def _recording_not_started(records, clock, origin) -> Found | None:
    asked = [
        exchange
        for exchange in _answers(records)
        if "start_recording" in action_names(exchange_actions(exchange))
    ]
    if not asked:
        return None
    asked_at = min(exchange.at for exchange in asked)
    grace = timedelta(seconds=settings.MINIVOICE_RECORDING_START_GRACE_SECONDS)
    if any(recording.status == RecordingStatus.COMPLETED for recording in records.recordings):
        return None  # the audio exists, so it started, whatever was reported when
    reported_at = first_at(
        *(recording.started_at for recording in records.recordings),
        *(recording.failed_at for recording in records.recordings),
        *(
            event.at
            for event in _events(records, contract.RECORDING_STARTED, contract.RECORDING_FAILED)
        ),
    )
    asked_words = f"We asked MiniVoice to start recording at {say_offset(asked_at, origin)}"
    if reported_at is None:
        if clock < asked_at + grace:
            return None  # still within the grace period
        return Found(
            Code.RECORDING_NOT_STARTED,
            ERROR,
            f"{asked_words}, and neither recording.started nor recording.failed came "
            f"within {_duration(grace)}: the call has no recording.",
        )
    if reported_at > asked_at + grace:
        return Found(
            Code.RECORDING_NOT_STARTED,
            WARNING,
            f"{asked_words}; MiniVoice reported the recording only at "
            f"{say_offset(reported_at, origin)}, after the {_duration(grace)} grace period.",
        )
    return None


def _recording_not_completed(records, clock, origin) -> Found | None:
    call = records.call
    if call is None or call.ended_at is None:
        return None  # while the call runs, an unfinished recording is normal
    grace = timedelta(seconds=settings.MINIVOICE_RECORDING_COMPLETE_GRACE_SECONDS)
    if clock < call.ended_at + grace:
        return None
    unfinished = [r for r in records.recordings if r.status == RecordingStatus.STARTED]
    if not unfinished:
        return None
    names = ", ".join(recording.minivoice_id or "(no id)" for recording in unfinished)
    return Found(
        Code.RECORDING_NOT_COMPLETED,
        ERROR,
        f"Recording {names} started at {say_offset(unfinished[0].started_at, origin)}, but "
        f"neither recording.completed nor recording.failed came within {_duration(grace)} "
        f"of the call's end at {say_offset(call.ended_at, origin)}: there may be no audio.",
    )


def _recording_failed(records, clock, origin) -> Found | None:
    failed = [r for r in records.recordings if r.status == RecordingStatus.FAILED]
    if not failed:
        return None
    said = "; ".join(
        f"{recording.minivoice_id or 'a recording'} at {say_offset(recording.failed_at, origin)}: "
        f"{recording.failure_reason or 'MiniVoice gave no reason'}"
        for recording in failed
    )
    return Found(Code.RECORDING_FAILED, ERROR, f"The recording failed ({said}).")


def _answer_url_failed(records, clock, origin) -> Found | None:
    reasons = []
    for event in _events(records, contract.ANSWER_URL_FAILED):
        data = contract.event_data(event.payload or {})
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        code = contract.text(error.get("code"), max_length=64) or "unknown error"
        message = contract.text(error.get("message"), max_length=200)
        reasons.append(
            f"MiniVoice could not use our answer at {say_offset(event.at, origin)} "
            f"({code}{': ' + message if message else ''})"
        )
    for exchange in records.exchanges:
        if exchange.response_status == 200 and is_fallback(exchange):
            why = fallback_reason(exchange)
            reasons.append(
                f"building our answer failed at {say_offset(exchange.at, origin)}"
                f"{f' ({why})' if why else ''}, so MiniVoice got the fallback (an apology, "
                "then hang up)"
            )
        elif exchange.response_status != 200:
            reasons.append(
                f"we refused MiniVoice's answer_url request at {say_offset(exchange.at, origin)} "
                f"with {exchange.response_status}"
            )
    if not reasons:
        return None
    text = "; ".join(reasons)
    return Found(Code.ANSWER_URL_FAILED, ERROR, text[0].upper() + text[1:] + ".")


def _call_stuck(records, clock, origin) -> Found | None:
    call = records.call
    if call is None or call.status == Call.Status.ENDED:
        return None
    began = call.started_at or call.created_at
    limit = timedelta(hours=settings.MINIVOICE_CALL_STUCK_HOURS)
    if clock < began + limit:
        return None
    return Found(
        Code.CALL_STUCK,
        WARNING,
        f"The call is still marked {call.get_status_display().lower()} more than "
        f"{_duration(limit)} after it began: MiniVoice's call.completed never came, or was lost.",
    )


def _no_answer_url(records, clock, origin) -> Found | None:
    call = records.call
    if call is None or records.exchanges:
        return None
    answered_at = call.answered_at
    if answered_at is None and call.final_status != Call.FinalStatus.COMPLETED:
        return None  # never answered: MiniVoice had no reason to ask us
    grace = timedelta(seconds=settings.MINIVOICE_ANSWER_URL_GRACE_SECONDS)
    if call.ended_at is None and (answered_at is None or clock < answered_at + grace):
        return None  # the request may still be on its way
    when = f" at {say_offset(answered_at, origin)}" if answered_at else ""
    return Found(
        Code.NO_ANSWER_URL,
        WARNING,
        f"MiniVoice reported the call answered{when}, but never asked our answer_url, so "
        "the caller got none of our actions. Check the answer_url set at MiniVoice.",
    )


def _ended_early(records, clock, origin) -> Found | None:
    call = records.call
    answers = [exchange for exchange in _answers(records) if not is_fallback(exchange)]
    if call is None or call.ended_at is None or not answers:
        return None
    last = max(answers, key=lambda exchange: exchange.at)
    actions = exchange_actions(last)
    names = action_names(actions)
    if not names or call.ended_at < last.at:
        return None
    ended = say_offset(call.ended_at, origin)
    if names[-1] in HANDS_BACK:
        return Found(
            Code.ENDED_EARLY,
            WARNING,
            f"The call ended at {ended} before MiniVoice came back to us after "
            f"{names[-1]}: the caller did not get past that step.",
        )
    # Created_at has whole seconds: a second's slack keeps a call that ended right on
    # time from being called early.
    needed = run_seconds(actions)
    if (call.ended_at - last.at).total_seconds() + 1 >= needed:
        return None
    return Found(
        Code.ENDED_EARLY,
        WARNING,
        f"The call ended at {ended}, {(call.ended_at - last.at).total_seconds():.0f} s after "
        f"our answer at {say_offset(last.at, origin)}, before its last action "
        f"({names[-1]}) could run: the actions take about {needed:.0f} s "
        "(the caller hung up during the prompts?).",
    )


def _processing_failed(records, clock, origin) -> Found | None:
    failing = [
        event
        for event in records.events
        if event.state in (WebhookEvent.State.FAILED, WebhookEvent.State.GAVE_UP)
    ]
    if not failing:
        return None
    gave_up = any(event.state == WebhookEvent.State.GAVE_UP for event in failing)
    kinds = ", ".join(sorted({event.event_type or "(no type)" for event in failing}))
    then = (
        "some ran out of retries: replay them from the admin once the cause is fixed"
        if gave_up
        else "they are retried automatically"
    )
    return Found(
        Code.PROCESSING_FAILED,
        ERROR,
        f"{len(failing)} event(s) of this call failed processing ({kinds}), so the call "
        f"may be missing what they said; {then}.",
    )


def _recording_started_at(records: CallRecords) -> list[datetime]:
    """When MiniVoice said recordings started, by its clock: the events, and the
    recordings' own times (an event may be pruned, a recording stays)."""
    moments = [event.at for event in _events(records, contract.RECORDING_STARTED)]
    moments += [r.started_at for r in records.recordings if r.started_at is not None]
    return sorted(moments)


def _consent_at(records: CallRecords, mark: str) -> datetime | None:
    return first_at(*(e.at for e in _answers(records) if e.consent == mark))


def _recording_before_consent(records, clock, origin) -> Found | None:
    if not any(exchange.consent_required for exchange in _answers(records)):
        return None
    started = _recording_started_at(records)
    given = _consent_at(records, "given")
    early = [at for at in started if given is None or at < given]
    if not early:
        return None
    consent = (
        f"the caller consented only at {say_offset(given, origin)}"
        if given
        else "the caller never reached a step marked consent given"
    )
    return Found(
        Code.RECORDING_BEFORE_CONSENT,
        ERROR,
        f"MiniVoice started recording at {say_offset(early[0], origin)}, but {consent}: "
        "this flow needs consent before recording. The recording may have to be deleted.",
    )


def _recording_after_consent_declined(records, clock, origin) -> Found | None:
    declined = _consent_at(records, "declined")
    if declined is None:
        return None
    late = [at for at in _recording_started_at(records) if at >= declined]
    if not late:
        return None
    return Found(
        Code.RECORDING_AFTER_CONSENT_DECLINED,
        ERROR,
        f"The caller declined recording at {say_offset(declined, origin)}, yet MiniVoice "
        f"started recording at {say_offset(late[0], origin)}. The recording may have to "
        "be deleted.",
    )


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
