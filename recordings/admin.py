from __future__ import annotations

from django.contrib import admin

from calls.admin import ReadOnlyAdmin
from recordings.models import Recording


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "call",
        "status",
        "duration_seconds",
        "format",
        "started_at",
        "completed_at",
        "failure_reason",
    ]
    list_filter = ["status"]
    list_select_related = ["call"]
    search_fields = ["=minivoice_id", "=call__minivoice_id"]
    search_help_text = "A recording id or call id, exactly as MiniVoice sent it."
