"""Every exchange and event of a call in one list, and the caller's last step from it.

Used where the whole log matters (working out the last step again when the end arrives
late); `build_timeline` is the bounded view for people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from calls.flows.steps import event_step, exchange_step
from calls.models import AnswerExchange, Call, WebhookEvent
from calls.protocol.contract import event_data


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # "answer_url" or "webhook"
    at: datetime
    exchange: AnswerExchange | None = None
    event: WebhookEvent | None = None


# What placing an entry and reading its step need: a worker reads a call's whole log when
# its end arrives, so the stored bodies and headers stay behind (they load if asked for).
_EXCHANGE_FIELDS = (
    "occurred_at",
    "received_at",
    "response_status",
    "flow",
    "flow_version",
    "flow_draft",
    "step",
    "query_string",
    "variables",
    "response_body",
    "error",
)
_EVENT_FIELDS = ("occurred_at", "received_at", "event_type", "payload")


def call_timeline(*, call_id: str) -> list[TimelineEntry]:
    """Every answer_url exchange and webhook event of a call, in the order they happened.

    Both are placed by MiniVoice's `created_at` when the request had one (delivery can be
    late or out of order), else by when we received them. Events count even before any
    is processed into a Call row.
    """
    return calls_timelines([call_id])[call_id]


def calls_timelines(call_ids: Iterable[str]) -> dict[str, list[TimelineEntry]]:
    """`call_timeline` of each of these calls, read together: two queries in all."""
    timelines: dict[str, list[TimelineEntry]] = {call_id: [] for call_id in call_ids}
    exchanges = AnswerExchange.objects.filter(call_minivoice_id__in=list(timelines))
    for exchange in exchanges.only("call_minivoice_id", *_EXCHANGE_FIELDS).order_by():
        timelines[exchange.call_minivoice_id].append(
            TimelineEntry(kind="answer_url", at=exchange.at, exchange=exchange)
        )
    events = WebhookEvent.objects.filter(call_minivoice_id__in=list(timelines))
    for event in events.only("call_minivoice_id", *_EVENT_FIELDS).order_by():
        timelines[event.call_minivoice_id].append(
            TimelineEntry(kind="webhook", at=event.at, event=event)
        )
    for entries in timelines.values():
        # Ties (same second) keep answer_url first: we answer before MiniVoice reports.
        entries.sort(key=lambda entry: (entry.at, entry.kind != "answer_url"))
    return timelines


def call_last_step_before(
    *, call: Call, moment: datetime, timeline: list[TimelineEntry] | None = None
) -> tuple[str, datetime | None]:
    """The latest step the caller reached at or before `moment`, and when; from the
    call's `timeline` when the caller has read it already."""
    if timeline is None:
        timeline = call_timeline(call_id=call.minivoice_id)
    for entry in reversed(timeline):
        if entry.at > moment:
            continue
        if entry.exchange is not None:
            step = exchange_step(entry.exchange)
        else:
            step = event_step(entry.event.event_type, event_data(entry.event.payload or {}))
        if step:
            return step, entry.at
    return "", None
