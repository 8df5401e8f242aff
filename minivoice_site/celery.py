from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minivoice_site.settings")

# Every task closes a database connection that a new one would cure (a read-only
# session, a server shutting down): see minivoice_site.db_connections.
app = Celery("minivoice_site", task_cls="minivoice_site.db_connections:CheckedTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
