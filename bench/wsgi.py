"""What the harness's gunicorn serves: `/bench/reference/` and the whole app beside it.

The settings are the app's (bench/settings.py adds only the URL), so the reference runs
in the same gunicorn workers, through the same middleware, on the same connections.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

# Not setdefault: a gunicorn.conf.py or an environment naming the app's settings must not
# hide the reference URL.
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

application = get_wsgi_application()
