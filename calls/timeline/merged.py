"""Every exchange and event of a call in one list, and the caller's last step from it.

Used where the whole log matters (working out the last step again when the end arrives
late); `build_timeline` is the bounded view for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from calls.contract import event_data
from calls.models import AnswerExchange, Call, WebhookEvent
from calls.steps import event_step, exchange_step


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # "answer_url" or "webhook"
    at: datetime
    exchange: AnswerExchange | None = None
    event: WebhookEvent | None = None


# What placing an entry and reading its step need: a worker reads a call's whole log when
# its end arrives, so the stored bodies and headers stay behind (they load if asked for).
_EXCHANGE_FIELDS = ("occurred_at", "received_at", "response_status", "flow", "response_body")
_EVENT_FIELDS = ("occurred_at", "received_at", "event_type", "payload")


def call_timeline(*, call_id: str) -> list[TimelineEntry]:
    """Every answer_url exchange and webhook event of a call, in the order they happened.

    Both are placed by MiniVoice's `created_at` when the request had one (delivery can be
    late or out of order), else by when we received them. Events count even before any
    is processed into a Call row.
    """
    exchanges = AnswerExchange.objects.filter(call_minivoice_id=call_id).only(*_EXCHANGE_FIELDS)
    events = WebhookEvent.objects.filter(call_minivoice_id=call_id).only(*_EVENT_FIELDS)
    entries = [
        TimelineEntry(kind="answer_url", at=exchange.at, exchange=exchange)
        for exchange in exchanges.order_by()
    ]
    entries += [
        TimelineEntry(kind="webhook", at=event.at, event=event) for event in events.order_by()
    ]
    # Ties (same second) keep answer_url first: we answer before MiniVoice reports.
    return sorted(entries, key=lambda entry: (entry.at, entry.kind != "answer_url"))


def call_last_step_before(*, call: Call, moment: datetime) -> tuple[str, datetime | None]:
    """The latest step the caller reached at or before `moment`, and when."""
    for entry in reversed(call_timeline(call_id=call.minivoice_id)):
        if entry.at > moment:
            continue
        if entry.exchange is not None:
            step = exchange_step(entry.exchange)
        else:
            step = event_step(entry.event.event_type, event_data(entry.event.payload or {}))
        if step:
            return step, entry.at
    return "", None
