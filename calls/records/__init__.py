"""A call's records, loaded in a fixed number of queries however long the call's log is,
and the plain readings of them that the timeline and the problem checks share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F
from django.db.models.functions import Coalesce

from calls.flows import FALLBACK_FLOW
from calls.models import AnswerExchange, Call, CallProblem, WebhookEvent
from calls.protocol.actions import action_name
from calls.recordings_port import RecordingRow


@dataclass(frozen=True)
class CallRecords:
    call_id: str
    call: Call | None
    exchanges: list[AnswerExchange]
    events: list[WebhookEvent]  # in time order: all of them, or the first and last ones
    hidden_events: int  # how many were left out between the first and the last ones
    recordings: list[RecordingRow]
    problems: list[CallProblem]

    @property
    def is_empty(self) -> bool:
        return self.call is None and not self.exchanges and not self.events


# MiniVoice's clock where the request said, else ours: the order `build_timeline` shows.
EVENT_TIME = Coalesce(F("occurred_at"), F("received_at"))


def call_records(*, call_id: str, max_events: int) -> CallRecords:
    """Load a call's records: seven queries at most, whatever the number of its events.

    Events beyond `max_events` are counted, not loaded: the first half and the last half
    are what support reads (how it began, how it ended), the middle is a link away.
    """
    call = Call.objects.filter(minivoice_id=call_id).first()
    exchanges = list(AnswerExchange.objects.filter(call_minivoice_id=call_id).order_by("pk"))
    events_of_call = WebhookEvent.objects.filter(call_minivoice_id=call_id)
    total = events_of_call.count()
    head_size = max_events - max_events // 2
    # Always the same two queries, so the count of queries never depends on the data.
    head = list(events_of_call.order_by(EVENT_TIME, "received_at", "pk")[:head_size])
    tail = list(
        events_of_call.order_by(EVENT_TIME.desc(), "-received_at", "-pk")[: max_events // 2]
    )
    seen = {event.pk for event in head}
    events = head + [event for event in reversed(tail) if event.pk not in seen]
    recordings, problems = [], []
    if call is not None:
        recordings = list(call.recordings.order_by("created_at", "pk"))
        problems = list(call.problems.order_by("detected_at", "pk"))
    return CallRecords(
        call_id=call_id,
        call=call,
        exchanges=exchanges,
        events=events,
        hidden_events=max(total - len(events), 0),
        recordings=recordings,
        problems=problems,
    )


# -- Reading an exchange ------------------------------------------------------------------


def exchange_payload(exchange: AnswerExchange) -> object:
    """What we returned, parsed; None if the stored body is not JSON (never raises)."""
    try:
        return json.loads(exchange.response_body)
    except ValueError:
        return None


def exchange_actions(exchange: AnswerExchange) -> list[dict]:
    """The actions an answer returned; [] for a refusal or an error envelope."""
    payload = exchange_payload(exchange)
    if exchange.response_status != 200 or not isinstance(payload, dict):
        return []
    actions = payload.get("actions")
    return (
        [action for action in actions if isinstance(action, dict)]
        if isinstance(actions, list)
        else []
    )


def action_names(actions: list[dict]) -> list[str]:
    return [action_name(action) or "?" for action in actions]


def action_params(action: dict) -> dict:
    """An action's parameters, written keyed (`{"say": {...}}`) or typed (`{"type": ...}`)."""
    if "type" in action:
        return {key: value for key, value in action.items() if key != "type"}
    params = next(iter(action.values()), {}) if len(action) == 1 else {}
    return params if isinstance(params, dict) else {}


def is_fallback(exchange: AnswerExchange) -> bool:
    return exchange.flow == FALLBACK_FLOW


def fallback_reason(exchange: AnswerExchange) -> str:
    """Why a flow could not answer, when it was said in words (a bad step token, no flow
    for the number); "" for a crash, whose traceback is for developers."""
    error = exchange.error.strip()
    return error if error and "\n" not in error and "Traceback" not in error else ""


def error_envelope(exchange: AnswerExchange) -> tuple[str, str]:
    """(code, message) of a refusal we answered with our error envelope."""
    payload = exchange_payload(exchange)
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code", "")), str(error.get("message", ""))


def first_at(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None


def offset(at: datetime | None, origin: datetime | None) -> float | None:
    if at is None or origin is None:
        return None
    return round((at - origin).total_seconds(), 3)


def say_offset(at: datetime | None, origin: datetime | None) -> str:
    """`+12.3 s` (or `-0.5 s` for news from before the start); "" when unknown."""
    seconds = offset(at, origin)
    if seconds is None:
        return ""
    if abs(seconds) >= 3600:
        hours, rest = divmod(abs(seconds), 3600)
        sign = "-" if seconds < 0 else "+"
        return f"{sign}{int(hours)} h {rest / 60:.0f} min"
    if abs(seconds) >= 600:
        return f"{seconds / 60:+.1f} min"
    return f"{seconds:+.1f} s"
