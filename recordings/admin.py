from __future__ import annotations

from functools import partial

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html

from calls.console import (
    CallIdFilter,
    DateRangeFilter,
    ReadOnlyAdmin,
    WhenFilter,
    call_page_inline_register,
    timestamp,
)
from recordings.fetching import recordings_fetch_again
from recordings.models import Recording
from recordings.views import RecordingAudioView
from recordings.work import audio_fetch_send

FETCH_PERMISSION = "recordings.fetch_recording"


@admin.action(permissions=["fetch"], description="Fetch the audio again (pending or unavailable)")
def fetch_audio_again(modeladmin, request: HttpRequest, queryset: QuerySet[Recording]) -> None:
    pks = recordings_fetch_again(recordings=queryset)
    if not pks:
        modeladmin.message_user(
            request,
            "Nothing to fetch: the chosen recordings' audio is stored or pruned, or they "
            "never completed.",
            messages.WARNING,
        )
        return
    # After commit, and outside the request's transaction: the download is slow I/O.
    transaction.on_commit(partial(audio_fetch_send, pks))
    modeladmin.message_user(
        request, f"Asked for the audio of {len(pks)} recording(s) again.", messages.SUCCESS
    )


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
        "audio_shown",
    ]
    list_filter = [
        "status",
        "audio_state",
        "transcript_state",
        WhenFilter,
        DateRangeFilter,
        CallFilter,
    ]
    actions = [fetch_audio_again]
    change_form_template = "admin/recordings/recording/change_form.html"
    list_select_related = ["call"]
    search_fields = ["minivoice_id__exact", "call__minivoice_id__exact", "transcript"]
    search_help_text = (
        'A recording id or call id, exactly as MiniVoice sent it, or words said ("cancel").'
    )
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
        "audio_state",
        "audio_error",
        "audio_tries",
        "audio_size_bytes",
        "audio_sha256",
        "audio_key",
        "audio_stored_at",
        "transcript_state",
        "transcript",
        "transcript_error",
    ]
    readonly_fields = fields

    def get_urls(self):
        # The audio, behind the admin's login (staff only) and a permission each.
        guarded = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/audio/",
                guarded(RecordingAudioView.as_view()),
                name="recordings_recording_audio",
            ),
            path(
                "<int:pk>/download/",
                guarded(RecordingAudioView.as_view(download=True)),
                name="recordings_recording_download",
            ),
            *super().get_urls(),
        ]

    def has_fetch_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(FETCH_PERMISSION)

    @admin.display(description="Audio", ordering="audio_state")
    def audio_shown(self, recording: Recording) -> str:
        """The audio's state; why it is unavailable, or the recording's failure reason."""
        reason = recording.failure_reason
        if recording.audio_state == Recording.AudioState.UNAVAILABLE:
            reason = recording.audio_error
        label = recording.get_audio_state_display()
        if recording.status != Recording.Status.COMPLETED:
            label = "none"
        return format_html("{}<div class='mv-abs'>{}</div>", label, reason) if reason else label

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
