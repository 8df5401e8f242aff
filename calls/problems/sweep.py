"""The beat sweep: calls where only time passing can reveal a problem, checked again.

Candidates come from indexed queries over recent rows, never a scan of every call. Before
a recording left started or a call stuck in progress is raised as a problem, MiniVoice's
API is asked what its webhooks did not say (`calls.problems.lookups`, a few requests a
run); a candidate left unasked for lack of requests this run waits for the next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from calls.models import AnswerExchange, Call, CallProblem
from calls.problems.lookups import Lookups, call_ask_minivoice
from calls.problems.store import call_problems_refresh
from calls.recordings_port import RecordingStatus
from calls.recordings_port import recordings as recordings_port

logger = logging.getLogger(__name__)

Code = CallProblem.Code


def calls_check_overdue(
    *, now: datetime | None = None, limit: int = 500, lookups: Lookups | None = None
) -> int:
    """Check again the calls where time passing alone can make a problem; return how many.

    Three kinds, each found with indexed queries over recent rows only, never a scan of
    every call: an answer that asked to start recording with no recording since, a call
    ended with a recording still only started, a call in progress for too long. For the
    last two MiniVoice's API is asked first, within `lookups` (a run's allowance).
    """
    now = now or timezone.now()
    lookups = lookups if lookups is not None else Lookups()
    overdue = _overdue_calls(now=now, limit=limit)
    checked = 0
    for call_id in overdue.call_ids:
        if call_id in overdue.to_ask:
            if lookups.out_of_requests:
                continue  # asked, then checked, on the next run
            try:
                call_ask_minivoice(call_id=call_id, now=now, lookups=lookups)
            except Exception:  # a bug here must not stop the sweep: check as before
                logger.exception("Asking MiniVoice's API about call %s failed", call_id)
        call_problems_refresh(call_id=call_id, now=now)
        checked += 1
    return checked


@dataclass(frozen=True)
class Overdue:
    call_ids: list[str]  # in order, distinct
    to_ask: set[str]  # those MiniVoice's API is asked about first


# How far back (past the grace period) the sweep looks, so beat can be down this long
# and miss nothing. Longer costs more than it saves: at a million calls, six hours of
# answers are checked in ~15 ms with index lookups, but two days made PostgreSQL hash
# every recording (~450 ms a minute). A call's own events re-run its checks anyway.
SWEEP_LOOKBACK = timedelta(hours=6)


def _overdue_calls(*, now: datetime, limit: int) -> Overdue:
    flagged = _has_problem
    recordings = recordings_port().rows()
    start_grace = timedelta(seconds=settings.MINIVOICE_RECORDING_START_GRACE_SECONDS)
    # Answers by our clock (received_at is indexed); the check itself uses MiniVoice's.
    not_started = (
        AnswerExchange.objects.filter(
            received_at__lte=now - start_grace,
            received_at__gte=now - start_grace - SWEEP_LOOKBACK,
            response_status=200,
            call__isnull=False,
            response_body__contains='"start_recording"',
        )
        .filter(~Exists(recordings.filter(call=OuterRef("call"))))
        .filter(~flagged(Code.RECORDING_NOT_STARTED, OuterRef("call")))
        .values_list("call_minivoice_id", flat=True)[:limit]
    )
    complete_grace = timedelta(seconds=settings.MINIVOICE_RECORDING_COMPLETE_GRACE_SECONDS)
    not_completed = (
        recordings.filter(
            status=RecordingStatus.STARTED,
            created_at__gte=now - complete_grace - SWEEP_LOOKBACK,
            call__status=Call.Status.ENDED,
            call__ended_at__lte=now - complete_grace,
        )
        .filter(~flagged(Code.RECORDING_NOT_COMPLETED, OuterRef("call")))
        .values_list("call__minivoice_id", flat=True)[:limit]
    )
    stuck_for = timedelta(hours=settings.MINIVOICE_CALL_STUCK_HOURS)
    stuck = (
        Call.objects.filter(
            status__in=[Call.Status.INITIATED, Call.Status.RINGING, Call.Status.IN_PROGRESS],
            created_at__lte=now - stuck_for,
        )
        .filter(~flagged(Code.CALL_STUCK, OuterRef("pk")))
        .values_list("minivoice_id", flat=True)[:limit]
    )
    ids: dict[str, None] = {}  # ordered and distinct
    to_ask: set[str] = set()
    for query, ask in ((not_started, False), (not_completed, True), (stuck, True)):
        found = list(query)
        ids.update(dict.fromkeys(found))
        if ask:
            to_ask.update(found)
    return Overdue(call_ids=list(ids)[:limit], to_ask=to_ask)


def _has_problem(code: str, call_ref: OuterRef) -> Exists:
    return Exists(CallProblem.objects.filter(call=call_ref, code=code))
