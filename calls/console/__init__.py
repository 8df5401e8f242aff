"""The console support staff use, on Django's admin: calls and their timelines, the logs,
the dashboard, and the pieces other apps' admins share.

Calls and recordings are derived from MiniVoice's events, and the logs are evidence, so
nobody edits them by hand here. One module per model group (`calls.admin` registers
them); `base`, `filters` and `charts` hold what they share.
"""

from __future__ import annotations

from calls.console.base import ReadOnlyAdmin, for_reader, pretty_json, shown, timestamp
from calls.console.extensions import call_page_inline_register
from calls.console.filters import CallIdFilter, DateRangeFilter, WhenFilter

__all__ = [
    "CallIdFilter",
    "DateRangeFilter",
    "ReadOnlyAdmin",
    "WhenFilter",
    "call_page_inline_register",
    "for_reader",
    "pretty_json",
    "shown",
    "timestamp",
]
