"""Settings for the MiniVoice support app, read from the environment.

Defaults suit a laptop: SQLite, Celery tasks run in-process, DEBUG on. Production turns
on by setting variables; `.env.example` lists every one with what it does.

One module per part, read in this order. `base` defines the lists and dictionaries the
later parts add to in place (INSTALLED_APPS, MIDDLEWARE, REST_FRAMEWORK, LOGGING, and
`workers`' CELERY_BEAT_SCHEDULE): each part imports what it extends from where it is
defined.
"""

# The parts in the order they build on each other, not sorted.
# isort: off
from minivoice_site.settings.base import *  # noqa: F403
from minivoice_site.settings.workers import *  # noqa: F403
from minivoice_site.settings.minivoice import *  # noqa: F403
from minivoice_site.settings.retention import *  # noqa: F403
from minivoice_site.settings.api_schema import *  # noqa: F403
from minivoice_site.settings.door import *  # noqa: F403
# isort: on
