"""The Celery worker's consumer: back on its broker within a second, and then it asks for
a drain of what was stored meanwhile.

While the broker is away, intake keeps storing deliveries (the rows are the outbox, see
`calls.dispatch`) but cannot wake a worker. Once the broker is back, nothing new may
arrive to wake one, and the sweep only hands over events pending for two minutes. So:

- kombu's own tries to reconnect grow 2, 4, 6 ... up to 30 s apart: after a long outage
  the worker would notice the broker's return only that much later. Here they are made
  a second apart (a connection attempt to a broker that is down costs next to nothing),
  and with `CELERY_BROKER_CONNECTION_MAX_RETRIES` unset the worker never gives up.
- each time the consumer (re)connects, `DrainOnConnect` asks for one drain by task name,
  which takes whatever is pending, however long it has waited.

Celery's documented extension points: the `worker_consumer` setting names this class
(`CELERY_WORKER_CONSUMER`), and consumer bootsteps are started again at every
reconnection. `ensure_connected` is the consumer's own method, called at each connect.
"""

from __future__ import annotations

import logging
from functools import partial

from celery import bootsteps
from celery.worker import consumer

from calls import dispatch

logger = logging.getLogger(__name__)

RECONNECT_EVERY_SECONDS = 1


class DrainOnConnect(bootsteps.StartStopStep):
    """At every (re)connection to the broker: one drain for the events stored meanwhile."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, parent) -> None:
        if dispatch.wake_workers(force=True):
            logger.info("Connected to the broker: pending webhook events will be drained")


class Consumer(consumer.Consumer):
    """Celery's consumer, reconnecting promptly and draining once connected."""

    class Blueprint(consumer.Consumer.Blueprint):
        default_steps = [*consumer.Consumer.Blueprint.default_steps, f"{__name__}:DrainOnConnect"]

    def ensure_connected(self, conn):
        conn.ensure_connection = partial(
            conn.ensure_connection,
            interval_start=0,
            interval_step=RECONNECT_EVERY_SECONDS,
            interval_max=RECONNECT_EVERY_SECONDS,
        )
        return super().ensure_connected(conn)
