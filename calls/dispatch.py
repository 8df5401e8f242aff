"""The one place that hands stored work to Celery workers.

A stored `WebhookEvent` is its own outbox: handing it to a worker is only a nudge, and
losing the nudge loses nothing (the sweep in `calls.services.events_requeue_due` sends it
again). So sending must never hold up MiniVoice's request: the connection used here has
short connect and socket timeouts and publishes once, with no retry, and a broker that is
down or silent costs a few hundred milliseconds and one log line.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from django.conf import settings

from minivoice_site.celery import app as celery_app

logger = logging.getLogger(__name__)

# One publishing connection per thread (gunicorn's gthread workers run several threads,
# and a kombu connection is not thread-safe); dropped on any error and made anew.
_local = threading.local()


def send_event(event_id: int) -> bool:
    """Ask a worker to process the stored event; False when the broker would not take it."""
    # Imported here: calls.tasks imports the services, which import this module.
    from calls.tasks import process_webhook_event

    if celery_app.conf.task_always_eager:
        process_webhook_event.apply(args=(event_id,))
        return True
    try:
        process_webhook_event.apply_async(
            (event_id,), connection=_publishing_connection(), retry=False
        )
    except Exception as exc:  # any broker error: the row is stored, the sweep resends it
        _drop_publishing_connection()
        logger.warning(
            "Broker unavailable; webhook event %s stays queued for the sweep (%s: %s)",
            event_id,
            type(exc).__name__,
            exc,
        )
        return False
    return True


def _publishing_connection():
    url = celery_app.conf.broker_url
    connection = getattr(_local, "connection", None)
    if connection is None or getattr(_local, "url", None) != url:
        timeout = settings.BROKER_PUBLISH_TIMEOUT_SECONDS
        connection = celery_app.connection_for_write(
            url,
            connect_timeout=timeout,
            transport_options={
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                # Give up at once rather than retry to connect while MiniVoice waits.
                "max_retries": 0,
            },
        )
        _local.connection, _local.url = connection, url
    return connection


def _drop_publishing_connection() -> None:
    connection = getattr(_local, "connection", None)
    _local.connection = None
    if connection is not None:
        # Closing a broken connection may fail too; it is gone either way.
        with contextlib.suppress(Exception):
            connection.release()
