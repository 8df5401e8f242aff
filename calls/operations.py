"""The operators' everyday jobs, for their management commands: choosing events to
replay, handing stuck ones to a worker again, and pruning old logs.

Processing itself stays in `calls.processing` (`events_replay`, `events_requeue_due`): the
commands go through the same path as the worker and the beat sweep.

Pruning: calls, recordings and their problems are summaries of the logs and stay;
deleting the logs behind them changes none of them. Events still waiting for work
(pending, failed and due a retry) are kept whatever their age: deleting one would lose
what it says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from calls.models import AnswerExchange, WebhookEvent
from calls.processing.handover import events_requeue_due

logger = logging.getLogger(__name__)

# -- Replay ---------------------------------------------------------------------------


def events_chosen(
    *,
    ids: Sequence[int] = (),
    call_id: str = "",
    states: Sequence[str] = (),
    since: datetime | None = None,
) -> QuerySet[WebhookEvent]:
    """The events matching every choice given (an empty choice does not narrow)."""
    events = WebhookEvent.objects.all()
    if ids:
        events = events.filter(pk__in=ids)
    if call_id:
        events = events.filter(call_minivoice_id=call_id)
    if states:
        events = events.filter(state__in=states)
    if since is not None:
        events = events.filter(received_at__gte=since)
    return events


def unknown_event_ids(ids: Sequence[int]) -> list[int]:
    """The ids, among `ids`, of no stored event, in order."""
    known = set(WebhookEvent.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return sorted(set(ids) - known)


# -- Reconcile --------------------------------------------------------------------------


def events_requeue_stuck(
    *,
    pending_for: timedelta,
    limit: int,
    batch_size: int = 200,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """The beat sweep's service, run in batches up to `limit`; return how many were sent.

    A requeued event is stamped as just queued, so the next batch does not pick it again.
    """
    sent = 0
    while sent < limit:
        wanted = min(batch_size, limit - sent)
        count = events_requeue_due(pending_for=pending_for, limit=wanted)
        sent += count
        if on_batch is not None and count:
            on_batch(count)
        if count < wanted:
            break
    return sent


# -- Prune ------------------------------------------------------------------------------

# Waiting for work: never pruned.
UNFINISHED_STATES = (WebhookEvent.State.PENDING, WebhookEvent.State.FAILED)


@dataclass(frozen=True)
class Pruned:
    events: int
    exchanges: int


def prunable_events(*, before: datetime) -> QuerySet[WebhookEvent]:
    return WebhookEvent.objects.filter(received_at__lt=before).exclude(state__in=UNFINISHED_STATES)


def prunable_exchanges(*, before: datetime) -> QuerySet[AnswerExchange]:
    return AnswerExchange.objects.filter(received_at__lt=before)


def logs_prune(
    *,
    before: datetime | None = None,
    events_before: datetime | None = None,
    exchanges_before: datetime | None = None,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> Pruned:
    """Delete events and exchanges received before `before` (or each before its own
    cutoff; None: that log is left alone), `batch_size` rows at a time.

    Each batch is its own short transaction that deletes by primary key, so no lock is
    held for long and intake keeps going meanwhile; an interrupted run keeps what it did.
    """
    events_before = events_before or before
    exchanges_before = exchanges_before or before
    events = exchanges = 0
    if events_before is not None:
        events = _delete_in_batches(prunable_events(before=events_before), batch_size, on_batch)
    if exchanges_before is not None:
        exchanges = _delete_in_batches(
            prunable_exchanges(before=exchanges_before), batch_size, on_batch
        )
    return Pruned(events=events, exchanges=exchanges)


def logs_prune_by_settings(*, now: datetime | None = None) -> Pruned:
    """Beat's nightly retention of the logs: events older than MINIVOICE_PRUNE_EVENTS_AFTER
    and exchanges older than MINIVOICE_PRUNE_EXCHANGES_AFTER; an unset one is kept."""
    now = now or timezone.now()
    events_after = settings.MINIVOICE_PRUNE_EVENTS_AFTER
    exchanges_after = settings.MINIVOICE_PRUNE_EXCHANGES_AFTER
    pruned = logs_prune(
        events_before=now - events_after if events_after is not None else None,
        exchanges_before=now - exchanges_after if exchanges_after is not None else None,
    )
    if pruned.events or pruned.exchanges:
        logger.info(
            "Pruned %s webhook event(s) and %s answer_url exchange(s)",
            pruned.events,
            pruned.exchanges,
        )
    return pruned


def _delete_in_batches(
    chosen: QuerySet, batch_size: int, on_batch: Callable[[int], None] | None
) -> int:
    """Delete `chosen` oldest first, each batch picked by `received_at`, the time the
    cutoff is on, so that the same index serves the cutoff and the walk.

    Picking by primary key instead (`ORDER BY id`) is fast only while ids follow
    received_at: after a bulk import or a restore, every batch stepped over all the newer
    rows with smaller ids (bench/LOG.md: 734 s against 20 s for a million events).
    Each batch resumes at the last batch's newest time (`>=`, since rows can share a
    time): everything chosen before that time is already gone, and the rows kept (still
    waiting for work) are never chosen, so every batch deletes at least one row.
    """
    model: type[Model] = chosen.model
    deleted = 0
    resume_at = None
    while True:
        batch = chosen if resume_at is None else chosen.filter(received_at__gte=resume_at)
        picked = list(batch.order_by("received_at").values_list("pk", "received_at")[:batch_size])
        if not picked:
            return deleted
        with transaction.atomic():
            # Nothing points at log rows, so Django deletes them in one DELETE by key.
            count, _ = model.objects.filter(pk__in=[pk for pk, _ in picked]).delete()
        deleted += count
        resume_at = picked[-1][1]
        if on_batch is not None:
            on_batch(count)
