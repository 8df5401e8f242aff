"""Applying stored webhook events to their calls and recordings, in batches.

Workers drain pending events from the table in batches (`events_drain`): a batch is
claimed, applied and checked for problems in one transaction, with one commit. A failing
event never sinks its batch: the batch is then applied again one event at a time, and the
failure is kept on the event with its retry scheduled. `event_process` applies one event
the same way (in-process mode, and a task naming one event).

Applying is idempotent (every transition only moves forward), so an event processed twice,
by a worker that died after its commit but before Celery heard of it, changes nothing more.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from calls import dispatch
from calls.models import Call, WebhookEvent
from calls.problems.store import call_problems_refresh, calls_problems_refresh
from calls.processing.handlers import Loaded, event_apply
from calls.protocol import contract
from calls.recordings_port import recordings
from calls.rows import update_row
from calls.timeline.merged import calls_timelines

logger = logging.getLogger(__name__)

# Events claimed and committed together. A batch holds its calls' row locks until it
# commits, and an answer_url request for one of those calls waits that long (~2 ms an
# event): 50 keeps that wait near a tenth of a second, and larger batches save little
# more (1.35 statements an event at 50, 1.18 at 100, 1.9 at 20; about 10 before batches).
BATCH_SIZE = 50
# How long a drain waits for more after a batch that was not full. A batch's fixed cost
# (claiming, locking, checking, committing: ~15 statements) is paid per event when events
# trickle in one at a time; 0.1 s gathers a dozen at 120 events/s, at that much more lag.
BATCH_LINGER_SECONDS = 0.1
# What applying an event never reads: a batch leaves the stored copies behind.
_NOT_APPLIED = ("raw_body", "headers")


def events_drain(
    *,
    limit: int = 10_000,
    batch_size: int = BATCH_SIZE,
    linger: float = BATCH_LINGER_SECONDS,
    idle: float = dispatch.DRAIN_IDLE_SECONDS,
) -> int:
    """Process pending events, oldest first, until none has come for `idle` seconds;
    return how many.

    What a worker runs when intake wakes it (calls.dispatch, which relies on `idle`).
    Each batch is claimed with SKIP LOCKED, so several drains share the work without
    waiting on each other, and a worker that dies mid-batch loses only that batch's
    uncommitted work: its events stay pending for the next drain. After a batch that was
    not full it waits `linger` seconds before looking again, so that a steady trickle is
    applied in batches too.
    """
    dispatch.wake_flag_clear()  # before looking: a delivery committed after this wakes again
    processed = 0
    last_found = time.monotonic()
    while processed < limit:
        size = min(batch_size, limit - processed)
        with transaction.atomic():
            batch = list(
                WebhookEvent.objects.select_for_update(skip_locked=True)
                .filter(state=WebhookEvent.State.PENDING)
                .defer(*_NOT_APPLIED)
                .order_by("queued_at")[:size]  # the partial index on unfinished events
            )
            if batch:
                _process_claimed(batch)
        processed += len(batch)
        if batch:
            last_found = time.monotonic()
        elif time.monotonic() - last_found >= idle:
            return processed
        if len(batch) < size:
            time.sleep(linger)  # let the next batch fill a little
    dispatch.wake_workers(force=True)  # more may be waiting: another drain takes over
    return processed


def event_process(*, event_id: int) -> WebhookEvent | None:
    """Apply one stored event, exactly once; None if there is no such event.

    The row lock makes a second worker wait, then see the event done. A failure is kept
    on the event (`state` FAILED, its retry scheduled), as in a drain.
    """
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.is_done:
            return event
        _process_claimed([event])
    return event


def event_mark_failed(*, event_id: int, error: str) -> WebhookEvent | None:
    """Keep the failure on the event for support and schedule its next try, or give up
    once it has failed for longer than MINIVOICE_EVENT_RETRY_HOURS."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.is_done:  # another worker finished it meanwhile
            return event
        _fail_locked(event, error=error)
        transaction.on_commit(partial(_check_problems_after_commit, event.call_minivoice_id))
    return event


# -- A batch --------------------------------------------------------------------------------


def _process_claimed(events: list[WebhookEvent]) -> None:
    """Apply locked, unfinished events in the caller's transaction, then check their calls.

    Calls are locked in order of their id, whatever order the events came in: two workers
    never each hold a call the other waits for.
    """
    # Stable: one call's events keep the order they were queued in.
    events = sorted(events, key=lambda event: event.call_minivoice_id)
    calls = _apply_or_fail(events)
    _check_problems(events, calls)


def _apply_or_fail(events: list[WebhookEvent]) -> dict[str, Call]:
    """All at once; if that fails, undo it and apply each alone, so one bad event costs
    its batch a second pass rather than its neighbours their progress. A lone event that
    fails keeps the failure, its retry scheduled. Returns the calls applied to, locked."""
    try:
        with transaction.atomic():
            return _apply_together(events)
    except Exception:
        if len(events) == 1:
            _fail_locked(events[0], error=traceback.format_exc())
            return {}
        calls: dict[str, Call] = {}
        for event in events:
            calls.update(_apply_or_fail([event]))
        return calls


def _apply_together(events: list[WebhookEvent]) -> dict[str, Call]:
    """Apply events to their calls, each call read and written once, and mark them done.

    Raises if any event cannot be applied; the caller's savepoint then undoes them all.
    The events in memory are only changed once every write has gone through.
    """
    now = timezone.now()
    ignored_because = {event.pk: _ignored_because(event) for event in events}
    applicable = [event for event in events if ignored_because[event.pk] is None]
    calls = _calls_locked({event.call_minivoice_id: event.at for event in applicable})
    loaded = Loaded(
        recordings=recordings().lock_named(first_named=_recordings_named(applicable, calls)),
        timelines=calls_timelines(_ending(applicable, calls)),
    )
    for event in applicable:
        event_apply(event, calls[event.call_minivoice_id], loaded=loaded)
    for row in [*calls.values(), *loaded.recordings.values()]:
        update_row(row)
    outcomes: dict[tuple[str, str], list[WebhookEvent]] = {}
    for event in events:
        reason = ignored_because[event.pk]
        state = WebhookEvent.State.PROCESSED if reason is None else WebhookEvent.State.IGNORED
        outcomes.setdefault((state, reason or ""), []).append(event)
    for (state, error), done in outcomes.items():
        WebhookEvent.objects.filter(pk__in=[event.pk for event in done]).update(
            state=state,
            error=error,
            attempts=F("attempts") + 1,
            processed_at=now,
            next_attempt_at=None,
        )
    for (state, error), done in outcomes.items():
        for event in done:
            event.state, event.error, event.attempts = state, error, event.attempts + 1
            event.processed_at, event.next_attempt_at = now, None
    return calls


def _ignored_because(event: WebhookEvent) -> str | None:
    """Why an event is applied to no call (its `error`, "" when none is needed), or None
    when it is to be applied."""
    if event.event_type not in contract.KNOWN_EVENTS:
        return ""
    if not event.call_minivoice_id:
        problem = contract.read_event_facts(event.payload).call_id_problem
        if problem:
            return f"{problem} The event was applied to no call."
        return "The event names no call id, so it was applied to no call."
    return None


def _ending(events: list[WebhookEvent], calls: dict[str, Call]) -> list[str]:
    """The calls whose end step these events may work out again (`_apply_event`): those
    ended already, and those these events end. Their logs are read together, once."""
    return sorted(
        {
            event.call_minivoice_id
            for event in events
            if event.event_type == contract.CALL_COMPLETED
            or calls[event.call_minivoice_id].ended_at
        }
    )


def _calls_locked(started: dict[str, datetime]) -> dict[str, Call]:
    """The calls with these MiniVoice ids, locked for this transaction, those not yet
    known created (with `started` as their start until MiniVoice says otherwise).

    One upsert takes every row lock, in order of the id: an insert for a new call, a
    no-op update for a known one. Two statements whatever the number of calls.
    """
    if not started:
        return {}
    ids = sorted(started)
    Call.objects.bulk_create(
        [Call(minivoice_id=call_id, started_at=started[call_id]) for call_id in ids],
        update_conflicts=True,
        unique_fields=["minivoice_id"],
        update_fields=["minivoice_id"],  # changes nothing; the point is the row lock
    )
    return {call.minivoice_id: call for call in Call.objects.filter(minivoice_id__in=ids)}


def _recordings_named(
    events: list[WebhookEvent], calls: dict[str, Call]
) -> dict[str, tuple[Call, str]]:
    """Each recording id these events name, with the call and event type that first do."""
    named: dict[str, tuple[Call, str]] = {}
    for event in events:
        if event.event_type in contract.RECORDING_EVENTS:
            recording_id = recordings().id_of(contract.event_data(event.payload))
            if recording_id:
                named.setdefault(recording_id, (calls[event.call_minivoice_id], event.event_type))
    return named


def _fail_locked(event: WebhookEvent, *, error: str) -> None:
    event.record_failure(
        error=error,
        now=timezone.now(),
        retry_for=timedelta(hours=settings.MINIVOICE_EVENT_RETRY_HOURS),
    )
    event.save(update_fields=["state", "error", "attempts", "next_attempt_at"])


# -- Problem checks -------------------------------------------------------------------------


def _check_problems(events: Iterable[WebhookEvent], calls: dict[str, Call]) -> None:
    """Store the problems of the calls these events touched, once per call.

    In the batch's transaction, with `calls` locked already (a failed event's call, if it
    exists, is locked here), but in a savepoint of its own: a check that fails is logged
    for a person and never undoes the events.
    """
    call_ids = sorted(
        {
            event.call_minivoice_id
            for event in events
            if event.call_minivoice_id and event.state != WebhookEvent.State.IGNORED
        }
    )
    if not call_ids:
        return
    try:
        with transaction.atomic():
            missing = [call_id for call_id in call_ids if call_id not in calls]
            found = Call.objects.select_for_update().filter(minivoice_id__in=missing)
            checked = [calls[call_id] for call_id in call_ids if call_id in calls]
            checked += found.order_by("minivoice_id") if missing else []
            calls_problems_refresh(calls=checked)
    except Exception:
        logger.exception("Checking calls %s for problems failed", ", ".join(call_ids))


def _check_problems_after_commit(call_id: str) -> None:
    """After a failure recorded outside a batch: its call may now show a problem."""
    if not call_id:
        return
    try:
        call_problems_refresh(call_id=call_id)
    except Exception:
        logger.exception("Checking call %s for problems failed", call_id)
