"""Production's gunicorn settings: `gunicorn minivoice_site.wsgi` reads this file itself.

Threaded workers (gthread), so that a few slow or stalled clients cannot take every
worker: each worker process serves many connections, and a request whose body does not
arrive within REQUEST_READ_TIMEOUT_SECONDS is cut off (minivoice_site/wsgi.py). MiniVoice
gives up on a webhook after 10 seconds, so no client may hold intake for longer.
A buffering proxy (nginx) in front still helps against clients that trickle headers;
see the README's production section.
"""

from __future__ import annotations

import multiprocessing

from minivoice_site.env import envint, envstr

bind = envstr("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
# Processes: one per core, and one more, use the cores; threads cover waiting on I/O.
workers = envint("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1, minimum=1)
threads = envint("GUNICORN_THREADS", 16, minimum=1)
# A worker silent this long is restarted (a request stuck in Python, not a slow client).
timeout = envint("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = 30
keepalive = 5
