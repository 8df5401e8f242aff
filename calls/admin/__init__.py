"""The admin support staff use: calls and their timelines, the logs, the dashboard.

Calls and recordings are derived from MiniVoice's events, and the logs are evidence, so
nobody edits them by hand here. One module per model group; `base` holds what they share.
"""

from __future__ import annotations

from calls.admin import calls, logs  # noqa: F401  (registers the model admins)
from calls.admin.base import ReadOnlyAdmin, pretty_json

__all__ = ["ReadOnlyAdmin", "pretty_json"]
