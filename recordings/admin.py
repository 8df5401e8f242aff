from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from calls.console import (
    CallIdFilter,
    DateRangeFilter,
    ReadOnlyAdmin,
    WhenFilter,
    call_page_inline_register,
    timestamp,
)
from recordings.models import Recording


class CallFilter(CallIdFilter):
    """The call list's recording counts link here: one call's recordings, by status."""

    lookup = "call__minivoice_id"  # the call's unique index, then its recordings'


@call_page_inline_register
class RecordingInline(admin.TabularInline):
    model = Recording
    fields = ["minivoice_id", "status", "duration_seconds", "format", "failure_reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "call_link",
        "status",
        "duration_seconds",
        "format",
        "started",
        "finished",
        "failure_reason",
    ]
    list_filter = ["status", WhenFilter, DateRangeFilter, CallFilter]
    list_select_related = ["call"]
    search_fields = ["minivoice_id__exact", "call__minivoice_id__exact"]
    search_help_text = "A recording id or call id, exactly as MiniVoice sent it."
    show_facets = admin.ShowFacets.NEVER
    fields = [
        "minivoice_id",
        "call_link",
        "status",
        "started",
        "finished",
        "duration_seconds",
        "url",
        "format",
        "size_bytes",
        "failure_reason",
    ]
    readonly_fields = fields

    @admin.display(description="Call", ordering="call__minivoice_id")
    def call_link(self, recording: Recording) -> str:
        url = reverse("admin:calls_call_change", args=[recording.call_id])
        return format_html('<a href="{}">{}</a>', url, recording.call.minivoice_id)

    @admin.display(description="Started", ordering="started_at")
    def started(self, recording: Recording) -> str:
        return timestamp(recording.started_at)

    @admin.display(description="Completed or failed")
    def finished(self, recording: Recording) -> str:
        return timestamp(recording.completed_at or recording.failed_at)
