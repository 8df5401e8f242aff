from __future__ import annotations

import traceback

from celery import shared_task

from calls.services import event_mark_failed, event_process


@shared_task(bind=True, max_retries=8, acks_late=True)
def process_webhook_event(self, event_id: int) -> None:
    """Apply a stored webhook event; on failure keep the error and retry with back-off."""
    try:
        event_process(event_id=event_id)
    except Exception as exc:
        event_mark_failed(event_id=event_id, error=traceback.format_exc())
        # 10 s, 20 s, 40 s … about 40 minutes in all before giving up.
        raise self.retry(exc=exc, countdown=10 * 2**self.request.retries) from exc
