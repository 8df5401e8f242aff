"""Storing the checks' verdict: one `CallProblem` row per code, added, updated or deleted
so the rows always say what the checks (`calls.problems.checks`) say now.

It runs when a call's events are processed, and `calls.problems.sweep` runs it from beat
for calls where only time passing can tell. New problems go to the alerts after commit.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calls.models import AnswerExchange, Call, CallProblem, WebhookEvent
from calls.problems.alerts import problems_alert_later
from calls.problems.checks import Found, find_problems
from calls.protocol import contract
from calls.recordings_port import recordings as recordings_port
from calls.records import CallRecords

# The events the checks read; the others (there can be thousands) are never loaded.
_CHECKED_EVENTS = Q(event_type__in=[contract.ANSWER_URL_FAILED, *contract.RECORDING_EVENTS]) | Q(
    state__in=[WebhookEvent.State.FAILED, WebhookEvent.State.GAVE_UP]
)


def calls_records_for_checks(*, calls: list[Call]) -> list[CallRecords]:
    """What the checks read, for several calls in three queries whatever their number."""
    ids = [call.minivoice_id for call in calls]
    # The request's own body and headers play no part in any check: left in the table.
    exchanges = AnswerExchange.objects.filter(call_minivoice_id__in=ids).defer(
        "request_body", "request_headers", "query_string"
    )
    events = WebhookEvent.objects.filter(_CHECKED_EVENTS, call_minivoice_id__in=ids).defer(
        "raw_body", "headers"
    )
    recordings = recordings_port().rows().filter(call__in=calls)
    exchanges_of = _grouped(exchanges, "call_minivoice_id")
    events_of = _grouped(events, "call_minivoice_id")
    recordings_of = _grouped(recordings, "call_id")
    return [
        CallRecords(
            call_id=call.minivoice_id,
            call=call,
            exchanges=exchanges_of.get(call.minivoice_id, []),
            events=events_of.get(call.minivoice_id, []),
            hidden_events=0,
            recordings=recordings_of.get(call.pk, []),
            problems=[],
        )
        for call in calls
    ]


def _grouped(rows, attribute: str) -> dict:
    """The rows (in their query's order) by the value of `attribute`."""
    groups: dict = {}
    for row in rows:
        groups.setdefault(getattr(row, attribute), []).append(row)
    return groups


def call_problems_refresh(*, call_id: str, now: datetime | None = None) -> list[CallProblem]:
    """Store what the checks find on the call now; return the rows that are new.

    The call's row is locked, so two workers checking one call write one verdict. New
    problems are handed to the alert task after commit.
    """
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(minivoice_id=call_id).first()
        if call is None:
            return []
        return calls_problems_refresh(calls=[call], now=now)


def calls_problems_refresh(*, calls: list[Call], now: datetime | None = None) -> list[CallProblem]:
    """`call_problems_refresh` for calls the caller has locked, in the caller's
    transaction and a few queries whatever their number: what a worker runs once per
    batch of events rather than once per event."""
    if not calls:
        return []
    now = now or timezone.now()
    found_by_call = {
        records.call.pk: {
            problem.code: problem for problem in find_problems(records=records, now=now)
        }
        for records in calls_records_for_checks(calls=calls)
    }
    existing_by_call: dict[int, dict[str, CallProblem]] = {}
    for row in CallProblem.objects.filter(call__in=calls):
        existing_by_call.setdefault(row.call_id, {})[row.code] = row
    stale = [
        row.pk
        for call_pk, existing in existing_by_call.items()
        for code, row in existing.items()
        if code not in found_by_call[call_pk]
    ]
    if stale:
        CallProblem.objects.filter(pk__in=stale).delete()
    new = []
    for call in calls:
        new += _store_found(
            call, found_by_call[call.pk], existing_by_call.get(call.pk, {}), now=now
        )
    if new:
        problems_alert_later(problem_ids=[problem.pk for problem in new])
    return new


def _store_found(
    call: Call, found: dict[str, Found], existing: dict[str, CallProblem], *, now: datetime
) -> list[CallProblem]:
    """Add what is newly found, update what changed; return the rows added."""
    new = []
    for code, problem in found.items():
        row = existing.get(code)
        if row is None:
            new.append(
                CallProblem.objects.create(
                    call=call,
                    code=code,
                    severity=problem.severity,
                    message=problem.message,
                    detected_at=now,
                )
            )
        elif (row.severity, row.message) != (problem.severity, problem.message):
            row.severity, row.message = problem.severity, problem.message
            row.save(update_fields=["severity", "message"])
    return new
