"""Production's gunicorn settings: `gunicorn minivoice_site.wsgi` reads this file itself.

Threaded workers (gthread), so that slow or stalled clients cannot take every worker:
each worker process serves many connections; a request's headers are read by the worker's
event loop and it gets a thread only once they are whole (408 if they are not within
REQUEST_READ_TIMEOUT_SECONDS, minivoice_site/gunicorn_worker.py), and a body that does not
arrive within the same timeout is cut off with a 400 (minivoice_site/wsgi.py). MiniVoice
gives up on a webhook after 10 seconds, so no client may hold intake for longer.
"""

from __future__ import annotations

import gc
import multiprocessing

from minivoice_site.env import envint, envstr

bind = envstr("GUNICORN_BIND", "0.0.0.0:8000")
# gthread, with each request's headers read by the worker's event loop, not a thread, and
# the whole read bounded by REQUEST_READ_TIMEOUT_SECONDS (minivoice_site/gunicorn_worker.py).
worker_class = "minivoice_site.gunicorn_worker.HeadReadingThreadWorker"
# Processes: one per core, and one more, use the cores; threads cover waiting on I/O.
workers = envint("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1, minimum=1)
threads = envint("GUNICORN_THREADS", 16, minimum=1)
# A worker silent this long is restarted (a request stuck in Python, not a slow client).
timeout = envint("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = 30
keepalive = 5


def post_worker_init(worker) -> None:
    """The app is loaded in this worker: what it made at start-up (Django, the URL
    resolver, the flows) lives as long as the worker, so the garbage collector is told
    to stop scanning it. Measured in process on the answer_url (bench/LOG.md): a full
    collection took 38 ms with those objects tracked, 3 ms frozen; the collector's
    share of a request fell from 4.7 % to 1.9 %."""
    gc.freeze()
    worker.log.info("Froze %d start-up objects out of garbage collection", gc.get_freeze_count())
