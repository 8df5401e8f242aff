"""Celery: the broker (or in-process tasks), the queues, beat's schedule; and how long a
request may take to arrive or to hand its work over."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from minivoice_site.env import (
    envbroker,
    envint,
)
from minivoice_site.settings.base import LOGGING, TIME_ZONE

# Celery: with no broker, tasks run in-process (after the transaction commits), so a
# laptop needs nothing else installed. Setting CELERY_BROKER_URL turns on real workers.
_broker_url = envbroker("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not _broker_url
# In-process mode needs no broker; "memory://" keeps Kombu from looking for one.
CELERY_BROKER_URL = _broker_url or "memory://"
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only once it has run, so a worker that dies mid-task leaves
# it on the broker for another worker rather than losing the event.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# After a broker outage, a worker is back within a second and drains what was stored
# meanwhile (calls.worker); it tries to reconnect for as long as the outage lasts.
CELERY_WORKER_CONSUMER = "calls.worker:Consumer"
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# No task waits in the broker with a countdown (retries are scheduled in the database,
# see calls.tasks), so a message unacknowledged this long belongs to a dead worker:
# Redis hands it to another. Longer than any task runs; the sweep covers the gap.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
# Publishing happens on MiniVoice's request path (calls.dispatch): never retry there.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TIMEZONE = TIME_ZONE
# Recordings' audio work has a queue of its own, so a slow download never delays the
# processing of webhook events: run a worker for it (`-Q recordings`).
CELERY_TASK_ROUTES = {"recordings.tasks.*": {"queue": "recordings"}}
# How often beat counts the dashboard's figures (calls.console.snapshot). The page shows
# figures at most a minute old and counts by itself when the kept ones are older, so the
# interval plus the counting (about a second at a million calls) must stay under that.
MINIVOICE_DASHBOARD_REFRESH_SECONDS = envint("MINIVOICE_DASHBOARD_REFRESH_SECONDS", 30, minimum=5)
if MINIVOICE_DASHBOARD_REFRESH_SECONDS > 50:
    raise ImproperlyConfigured(
        "MINIVOICE_DASHBOARD_REFRESH_SECONDS must be at most 50: the dashboard's figures "
        f"are kept at most a minute old (got {MINIVOICE_DASHBOARD_REFRESH_SECONDS})"
    )
CELERY_BEAT_SCHEDULE = {
    "requeue-due-events": {"task": "calls.tasks.requeue_due_events", "schedule": 60.0},
    # Problems only time passing can reveal (a recording that never completed, ...).
    "check-overdue-calls": {"task": "calls.tasks.check_overdue_calls", "schedule": 60.0},
    "refresh-dashboard": {
        "task": "calls.tasks.refresh_dashboard",
        "schedule": float(MINIVOICE_DASHBOARD_REFRESH_SECONDS),
        # A count still queued when the next is due is dropped: the next one is fresher.
        "options": {"expires": float(MINIVOICE_DASHBOARD_REFRESH_SECONDS)},
    },
    # Audio whose fetch was asked for and lost (a worker killed right after its batch
    # committed, the broker away then): asked again (on the recordings queue).
    "fetch-audio-never-asked": {
        "task": "recordings.tasks.fetch_audio_never_asked",
        "schedule": 60.0,
    },
}

# Under gunicorn, how long a client may take to send its headers (minivoice_site/gunicorn_worker.py)
# and each next part of its body (minivoice_site/wsgi.py).
REQUEST_READ_TIMEOUT_SECONDS = envint("REQUEST_READ_TIMEOUT_SECONDS", 5, minimum=1)
# How long intake may wait on the broker before leaving an event to the sweep.
BROKER_PUBLISH_TIMEOUT_SECONDS = envint("BROKER_PUBLISH_TIMEOUT_MS", 300, minimum=10) / 1000
# How long a failing event is retried (with back-off) before it is marked "gave up".
MINIVOICE_EVENT_RETRY_HOURS = envint("MINIVOICE_EVENT_RETRY_HOURS", 24, minimum=1)


if CELERY_TASK_ALWAYS_EAGER:
    # In-process tasks would log a "Task … succeeded" line per webhook into runserver's
    # output; a worker's own log keeps them (and failures are logged either way).
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}
