"""What the harness's gunicorn serves: `/bench/reference/` and the whole app beside it.

The app's own WSGI entry point (minivoice_site.wsgi.application, with its read timeout),
loaded with bench/settings.py, which is the app's settings plus the reference's URL: the
reference runs in the same gunicorn workers, through the same wrapper and middleware, on
the same database connections.
"""

from __future__ import annotations

import os

# Not setdefault: a gunicorn.conf.py or an environment naming the app's settings must not
# hide the reference URL. Set before minivoice_site.wsgi reads it.
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

from minivoice_site.wsgi import application

__all__ = ["application"]
