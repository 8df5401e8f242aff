"""The app's own settings, with one URL more: the reference view (bench/reference.py).

Everything else (middleware, database, connection reuse, DEBUG, security) is the app's,
read from the same environment, so the reference and the project run alike.
"""

from __future__ import annotations

from minivoice_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
