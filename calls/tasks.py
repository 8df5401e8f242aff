from __future__ import annotations

import traceback
from datetime import timedelta

from celery import shared_task

from calls.services import event_mark_failed, event_process, events_requeue_pending

# Pending this long with no worker taking it: its task was lost (broker down at intake,
# or a message dropped), so the sweep hands it over again.
PENDING_TOO_LONG = timedelta(minutes=2)


@shared_task(bind=True, max_retries=8, acks_late=True)
def process_webhook_event(self, event_id: int) -> None:
    """Apply a stored webhook event; on failure keep the error and retry with back-off."""
    try:
        event_process(event_id=event_id)
    except Exception as exc:
        event_mark_failed(event_id=event_id, error=traceback.format_exc())
        if self.request.is_eager:
            # In-process mode (no broker) cannot wait between tries: the event stays
            # failed, with its error, for a person to look at and replay.
            return
        # 10 s, 20 s, 40 s … about 40 minutes in all before giving up.
        raise self.retry(exc=exc, countdown=10 * 2**self.request.retries) from exc


@shared_task
def requeue_pending_events() -> int:
    """Run by beat every minute: no stored event waits forever for a lost task."""
    return events_requeue_pending(older_than=PENDING_TOO_LONG)
