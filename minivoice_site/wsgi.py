"""The WSGI application gunicorn serves (see gunicorn.conf.py for how it is served)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minivoice_site.settings")

django_application = get_wsgi_application()


def application(environ, start_response):
    """Django, with a bound on how long one request may take to send its body.

    A client that declares more body than it sends would hold a worker thread for as long
    as it likes; with a socket timeout the read fails (the view answers 400) and the
    thread is free again. gunicorn hands its socket over in the environ; other servers
    (runserver, the test client) do not, and need no such bound.
    """
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(settings.REQUEST_READ_TIMEOUT_SECONDS)
    return django_application(environ, start_response)
