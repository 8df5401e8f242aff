"""Asking MiniVoice's API what its webhooks did not say, before the sweep raises a problem.

A recording left started after its call ended may have completed (or failed) with the
webhook lost; a call stuck in progress may have ended with its call.completed lost
(vonage-dotnet-sdk #628 is that failure). Before `recording_not_completed` or
`call_stuck` is raised, the sweep asks (`calls.minivoice_api`) and fills in what it
learns: the call's end (final status, duration), or the recording's, whose audio is then
fetched. Each is noted as learned from MiniVoice's API (`Call.ended_from_api`, the
recording's `status_from_api`), which the timeline says.

The requests run outside any transaction; what they said is applied in a short one,
under the call's row lock. Bounded per sweep run (`Lookups`): a few requests, and none
more once MiniVoice's API fails in a way that is not a plain 404, so a sweep never waits
on an API that is down. Whatever goes wrong (unreachable, 404, an answer that says
nothing usable), nothing is filled in and the checks raise the problem as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from calls import minivoice_api
from calls.flows.steps import end_step
from calls.minivoice_api import CallData, FetchError
from calls.models import Call
from calls.recordings_port import RecordingStatus
from calls.recordings_port import recordings as recordings_port

logger = logging.getLogger(__name__)

# At most this many requests to MiniVoice's API per sweep run (beat's, every minute).
LOOKUPS_PER_RUN = 20


@dataclass
class Lookups:
    """One sweep run's allowance of requests to MiniVoice's API."""

    left: int = LOOKUPS_PER_RUN
    api_down: str = ""  # why no more requests are made this run, once one failed
    asked: int = 0
    learned: list[str] = field(default_factory=list)  # what was filled in, in words

    @property
    def may_ask(self) -> bool:
        return self.left > 0 and not self.api_down and minivoice_api.api_configured()

    @property
    def out_of_requests(self) -> bool:
        """Would ask, but this run's requests are spent."""
        return self.left <= 0 and not self.api_down and minivoice_api.api_configured()

    def spend(self) -> None:
        self.left -= 1
        self.asked += 1

    def failed(self, error: FetchError) -> None:
        # A 404 is about one call or recording; anything else (timeouts, 5xx, a refused
        # key) will fail the same way for the next, so the run stops asking.
        if not error.not_found:
            self.api_down = error.reason


def call_ask_minivoice(*, call_id: str, now: datetime, lookups: Lookups) -> None:
    """Ask MiniVoice about an overdue call before its checks run again: its end if it
    is still in progress, then each recording still only started once the grace period
    after the end has passed. Fills in what MiniVoice's API says; never raises."""
    call = Call.objects.filter(minivoice_id=call_id).first()
    if call is None:
        return
    if call.status != Call.Status.ENDED:
        _ask_call_end(call, now=now, lookups=lookups)
        call.refresh_from_db()
        if call.status != Call.Status.ENDED:
            return
    grace = timedelta(seconds=settings.MINIVOICE_RECORDING_COMPLETE_GRACE_SECONDS)
    if call.ended_at is None or now < call.ended_at + grace:
        return  # the webhook may still come
    started = recordings_port().rows().filter(call=call, status=RecordingStatus.STARTED)
    for recording_id in started.exclude(minivoice_id=None).values_list("minivoice_id", flat=True):
        _ask_recording(call, recording_id, now=now, lookups=lookups)


def _ask_call_end(call: Call, *, now: datetime, lookups: Lookups) -> None:
    data = _ask(lookups, minivoice_api.call_data, call.minivoice_id)
    if data is None or not data.ended:
        return
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        at = _ended_at(data, locked, now=now)
        # Where the caller had got to by the end: the last step we know of, unless it
        # happened after the end MiniVoice gives.
        known = locked.last_step_at is None or locked.last_step_at <= at
        before = locked.last_step if known else ""
        final = Call.FinalStatus(data.status).label
        if locked.mark_ended_from_api(
            at,
            final_status=data.status,
            duration_seconds=data.duration_seconds,
            step=end_step(final, before),
        ):
            locked.save()
            lookups.learned.append(f"call {call.minivoice_id} ended ({data.status})")


def _ended_at(data: CallData, call: Call, *, now: datetime) -> datetime:
    """When MiniVoice says the call ended; else its start plus its duration; else now."""
    if data.ended_at is not None:
        return data.ended_at
    began = data.started_at or call.started_at
    if began is not None and data.duration_seconds is not None:
        return began + timedelta(seconds=data.duration_seconds)
    return now


def _ask_recording(call: Call, recording_id: str, *, now: datetime, lookups: Lookups) -> None:
    info = _ask(lookups, minivoice_api.recording_info, recording_id)
    if info is None:
        return
    with transaction.atomic():
        Call.objects.select_for_update().filter(pk=call.pk).first()  # as a batch of events does
        if recordings_port().apply_api(call=call, info=info, now=now):
            lookups.learned.append(f"recording {recording_id} {info.status}")


def _ask(lookups: Lookups, request, object_id: str):
    """One request within the run's allowance; None when not asked or when it failed."""
    if not lookups.may_ask:
        return None
    lookups.spend()
    try:
        return request(object_id)
    except FetchError as exc:
        lookups.failed(exc)
        logger.warning("Asking MiniVoice's API about %s: %s", object_id, exc.reason)
        return None
