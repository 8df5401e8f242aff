"""Celery tasks: thin wrappers that fetch by id and call a service.

An event's retries are not Celery's: a failed event's next try is scheduled in its row
(`WebhookEvent.record_failure`) and sent by the sweep, so no retry waits in the broker
where a dead worker or a broker outage could lose it. (A drain that found the database
away is tried again by Celery, sooner than the sweep; losing that retry loses nothing.)
"""

from __future__ import annotations

import traceback
from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError

from calls.console.snapshot import dashboard_refresh
from calls.operations import logs_prune_by_settings
from calls.problems.alerts import problems_alert
from calls.problems.sweep import calls_check_overdue
from calls.processing.batch import event_mark_failed, event_process, events_drain
from calls.processing.handover import events_requeue_due

# Pending this long with no worker finishing it: its task was lost (broker down at
# intake, a message dropped, a worker killed), so the sweep hands it over again.
PENDING_TOO_LONG = timedelta(minutes=2)


@shared_task(
    acks_late=True,
    # The database away for a moment (a restart, a failover): drain again once it is
    # back, rather than leave the stored events to the sweep's two minutes. Harmless: the
    # events' rows say what is left to do. Celery closes the broken connection after the
    # failed try (its Django fix-up), so the next one connects anew.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,  # 1, 2, 4 … seconds
    retry_backoff_max=30,
    max_retries=8,
)
def drain_pending_events() -> int:
    """Process pending events until none is left: what intake wakes (calls.dispatch)."""
    return events_drain()


@shared_task(acks_late=True)
def process_webhook_event(event_id: int) -> None:
    """Apply a stored webhook event; on failure keep the error and schedule a retry."""
    try:
        event_process(event_id=event_id)
    except Exception:
        event_mark_failed(event_id=event_id, error=traceback.format_exc())


@shared_task
def requeue_due_events() -> int:
    """Run by beat every minute: lost tasks and due retries go to a worker again."""
    return events_requeue_due(pending_for=PENDING_TOO_LONG)


@shared_task
def check_overdue_calls() -> int:
    """Run by beat every minute: problems that only time passing can reveal."""
    return calls_check_overdue()


@shared_task
def send_problem_alerts(problem_ids: list[int]) -> None:
    """Tell support about newly found problems (email and/or chat webhook)."""
    problems_alert(problem_ids=problem_ids)


@shared_task
def prune_old_logs() -> dict:
    """Run by beat nightly when MINIVOICE_PRUNE_EVENTS_AFTER or
    MINIVOICE_PRUNE_EXCHANGES_AFTER is set: old webhook events and answer_url exchanges
    deleted (as `prune_events` does), each log by its own setting."""
    pruned = logs_prune_by_settings()
    return {"events": pruned.events, "exchanges": pruned.exchanges}


@shared_task
def refresh_dashboard() -> None:
    """Run by beat every MINIVOICE_DASHBOARD_REFRESH_SECONDS: the front page's figures,
    counted once for every reader (calls.console.snapshot)."""
    dashboard_refresh()
