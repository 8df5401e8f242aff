"""The one door to the Celery workers: work is asked for here, by task name.

Nothing but Celery imports `calls.tasks` (an import-linter contract says so): the code
that asks for work never imports the code that does it, so the request path, the
processing and the checks stay free of one another. In-process mode (no broker) runs the
named task right here, before the call returns.

A stored `WebhookEvent` is its own outbox: the row says what is to be done, and a worker
takes pending rows from the table (`calls.processing.batch.events_drain`). Intake only has to
make sure a worker is on its way, and that must not hold up MiniVoice's request:

- A delivery sets a flag in Redis (SET NX, some 20 microseconds). Only the one that sets
  it publishes a `drain_pending_events` task; under load that is one Celery message per
  burst rather than one per delivery (a publish costs some 400 microseconds of CPU).
- The drain clears the flag *before* it looks at the table, so a delivery committed after
  that look finds the flag clear and wakes another drain: nothing is left waiting.
- A process that woke the workers less than `WAKE_AGAIN_AFTER_SECONDS` ago does not even
  set the flag: the drain it woke starts after that wake-up and looks at the table until
  it has found nothing for `DRAIN_IDLE_SECONDS`, which is longer, so it sees every
  delivery committed in between. Under load that is one Redis round trip per process
  every half second instead of one per delivery.
- The connections used here have short connect and socket timeouts and publish once,
  with no retry. A broker that is down or silent costs a few hundred milliseconds and
  one log line; the event stays pending and beat's sweep hands it over later.

With no broker (a laptop), events are processed in-process right here instead.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable

import redis
from django.conf import settings

from minivoice_site.celery import app as celery_app

logger = logging.getLogger(__name__)

WAKE_FLAG = "minivoice:drain-requested"
# A wake-up whose task was lost (a broker restarted without its queue) holds the flag at
# most this long; the sweep forces a wake-up meanwhile.
WAKE_FLAG_SECONDS = 30

# The pair behind skipping a wake-up (see above): a drain must keep looking for longer
# than a process goes without waking the workers.
WAKE_AGAIN_AFTER_SECONDS = 0.5
DRAIN_IDLE_SECONDS = 2 * WAKE_AGAIN_AFTER_SECONDS
_last_wake = {"at": float("-inf")}  # per process, shared by its threads (time.monotonic)

# One publishing connection per thread (gunicorn's gthread workers run several threads,
# and a kombu connection is not thread-safe); dropped on any error and made anew.
_local = threading.local()


# The tasks' names (`calls.tasks`, registered under their module path).
DRAIN_PENDING_EVENTS = "calls.tasks.drain_pending_events"
PROCESS_WEBHOOK_EVENT = "calls.tasks.process_webhook_event"
SEND_PROBLEM_ALERTS = "calls.tasks.send_problem_alerts"


def send_events(event_ids: Iterable[int], *, force_wake: bool = False) -> bool:
    """See that these stored, pending events get processed; False when the broker would
    not take the wake-up (they stay pending for the sweep)."""
    if celery_app.conf.task_always_eager:
        for event_id in event_ids:
            run_here(PROCESS_WEBHOOK_EVENT, event_id)
        return True
    return wake_workers(force=force_wake, event_ids=event_ids)


def send_problem_alerts(problem_ids: list[int]) -> None:
    """Hand new problems to the alert task (run here in in-process mode). The caller
    sends after commit; a broker that is away loses only the alert, logged."""
    if celery_app.conf.task_always_eager:
        run_here(SEND_PROBLEM_ALERTS, problem_ids)
        return
    try:
        celery_app.send_task(SEND_PROBLEM_ALERTS, args=(problem_ids,))
    except Exception:  # any broker error: problems are stored, only the alert is lost
        logger.exception("Could not send the alerts for problems %s", problem_ids)


def run_here(task_name: str, *args) -> None:
    """In-process mode: run the named task now, as a worker would (`apply` keeps its
    exceptions in its result, as a worker keeps them in its log). Any app's tasks."""
    with _registering:
        # Celery's autodiscovery, once per process. Under the lock: a second thread that
        # looked while the first was still importing the tasks would find none.
        if task_name not in celery_app.tasks:
            celery_app.loader.import_default_modules()
    celery_app.tasks[task_name].apply(args=args)


_registering = threading.Lock()


def wake_workers(*, force: bool = False, event_ids: Iterable[int] = ()) -> bool:
    """Make sure a drain task is on its way: publish one unless one already is.

    `event_ids` only name, in the log, the events that wait if the broker is away.
    """
    now = time.monotonic()
    if not force and now - _last_wake["at"] < WAKE_AGAIN_AFTER_SECONDS:
        return True  # the drain woken then is still looking (see the module's docstring)
    try:
        flag_was_clear = not _uses_redis() or _redis().set(
            WAKE_FLAG, "1", nx=True, ex=WAKE_FLAG_SECONDS
        )
        if flag_was_clear or force:
            celery_app.send_task(
                DRAIN_PENDING_EVENTS, connection=_publishing_connection(), retry=False
            )
    except Exception as exc:  # any broker error: the rows are stored, the sweep resends
        _drop_connections()
        logger.warning(
            "Broker unavailable; stored webhook events %s wait for the sweep (%s: %s)",
            ", ".join(map(str, event_ids)) or "(pending)",
            type(exc).__name__,
            exc,
        )
        return False
    _last_wake["at"] = now
    return True


def wake_flag_clear() -> None:
    """Called by a drain before it looks for work (see the module's docstring)."""
    if celery_app.conf.task_always_eager or not _uses_redis():
        return
    try:
        _redis().delete(WAKE_FLAG)
    except redis.RedisError:
        # The flag expires by itself; the drain goes on, and the sweep covers the rest.
        _drop_connections()


def _uses_redis() -> bool:
    return str(celery_app.conf.broker_url).startswith(("redis://", "rediss://"))


def _redis() -> redis.Redis:
    url = celery_app.conf.broker_url
    client = getattr(_local, "redis", None)
    if client is None or getattr(_local, "redis_url", None) != url:
        timeout = settings.BROKER_PUBLISH_TIMEOUT_SECONDS
        client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )
        _local.redis, _local.redis_url = client, url
    return client


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


def _drop_connections() -> None:
    connection, client = getattr(_local, "connection", None), getattr(_local, "redis", None)
    _local.connection = _local.redis = None
    # Closing a broken connection may fail too; it is gone either way.
    with contextlib.suppress(Exception):
        if connection is not None:
            connection.release()
    with contextlib.suppress(Exception):
        if client is not None:
            client.close()
