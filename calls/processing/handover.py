"""Handing stored events to the workers again: the sweep's due retries and lost tasks,
and replays asked for by support (admin action) or operators (`replay_events`).

Each goes through the same task as a fresh delivery (`calls.dispatch`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from calls import dispatch
from calls.models import WebhookEvent

logger = logging.getLogger(__name__)


def events_requeue_due(*, pending_for: timedelta, limit: int = 1000) -> int:
    """Hand to a worker again the events that need it; return how many.

    Two kinds: events pending for longer than `pending_for` (no worker took them: the
    broker was down at intake, or a worker died mid-task), and failed events whose retry
    is due (`WebhookEvent.record_failure` set when). Both are made pending and stamped,
    so one still in flight is not sent again before `pending_for` has passed. Processing
    is idempotent, so a worker that was merely slow costs one extra look.
    """
    now = timezone.now()
    due = events_due_for_requeue(pending_for=pending_for, now=now)
    event_ids = list(due.order_by("queued_at").values_list("pk", flat=True)[:limit])
    WebhookEvent.objects.filter(pk__in=event_ids, state__in=_REQUEUED_STATES).update(
        state=WebhookEvent.State.PENDING, queued_at=now, next_attempt_at=None
    )
    if event_ids:
        # Forced: a wake-up whose task was lost may still hold the flag (calls.dispatch).
        dispatch.send_events(event_ids, force_wake=True)
    return len(event_ids)


_REQUEUED_STATES = (WebhookEvent.State.PENDING, WebhookEvent.State.FAILED)


def events_due_for_requeue(
    *, pending_for: timedelta, now: datetime | None = None
) -> QuerySet[WebhookEvent]:
    """What `events_requeue_due` hands to a worker: pending for longer than `pending_for`
    (no worker took it), or failed with a retry that is due."""
    now = now or timezone.now()
    return WebhookEvent.objects.filter(
        Q(state=WebhookEvent.State.PENDING, queued_at__lt=now - pending_for)
        | Q(state=WebhookEvent.State.FAILED, next_attempt_at__lte=now)
    )


@dataclass(frozen=True)
class Replay:
    """What `events_replay` did (or, on a dry run, would do): events sent to a worker, and
    those it left alone."""

    sent: list[int]
    already_done: int  # processed, ignored or malformed: nothing to do again

    def states_now(self) -> dict[str, int]:
        """How many of the sent events are in each state now: in-process mode has
        processed them already; with a worker most are still pending."""
        return dict(
            WebhookEvent.objects.filter(pk__in=self.sent)
            .values_list("state")
            .annotate(count=Count("pk"))
            .values_list("state", "count")
        )


def events_replay(
    *,
    events: QuerySet[WebhookEvent],
    batch_size: int = 500,
    on_batch: Callable[[int], None] | None = None,
    dry_run: bool = False,
) -> Replay:
    """Process the chosen events again, through the same task as a fresh delivery.

    Pending, failed and given-up events are made pending again and sent to a worker,
    oldest first, `batch_size` at a time (in-process mode processes each batch before the
    next; `on_batch` is told each batch's size once it is sent). Done events are left
    alone: applying an event twice changes nothing, so there is nothing to gain. A dry
    run says what would be sent and changes nothing. Support's admin action, the
    `replay_events` command and the sweep's callers all come here.
    """
    now = timezone.now()
    # Counted first: in-process mode has processed the replayed ones by the end.
    already_done = events.filter(state__in=WebhookEvent.DONE_STATES).count()
    chosen = events.filter(state__in=WebhookEvent.REPLAYABLE_STATES)
    sent = list(chosen.order_by("received_at", "pk").values_list("pk", flat=True))
    if dry_run:
        return Replay(sent=sent, already_done=already_done)
    for start in range(0, len(sent), batch_size):
        batch = sent[start : start + batch_size]
        with transaction.atomic():
            WebhookEvent.objects.filter(
                pk__in=batch, state__in=WebhookEvent.REPLAYABLE_STATES
            ).update(state=WebhookEvent.State.PENDING, queued_at=now, next_attempt_at=None)
            transaction.on_commit(partial(dispatch.send_events, batch, force_wake=True))
        if on_batch is not None:
            on_batch(len(batch))
    return Replay(sent=sent, already_done=already_done)
