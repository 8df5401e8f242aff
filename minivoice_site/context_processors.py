from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def instance(request: HttpRequest) -> dict:
    """Tells templates whether this is a development instance (DEBUG on)."""
    return {"debug_instance": settings.DEBUG}
