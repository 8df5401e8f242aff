from __future__ import annotations

import re
from functools import partial

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import CharField, Prefetch, QuerySet, Value
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from calls.console import (
    CallIdFilter,
    DateRangeFilter,
    ReadOnlyAdmin,
    WhenFilter,
    call_page_inline_register,
    for_reader,
    shown,
    timestamp,
)
from calls.models import AnswerExchange
from recordings.fetching import recordings_fetch_again
from recordings.filters import (
    OUTCOMES,
    DurationFilter,
    FlowFilter,
    OutcomeFilter,
    outcome_of,
)
from recordings.models import AudioState, Recording, TranscriptState
from recordings.search import recordings_saying
from recordings.views import LISTEN_PERMISSION, RecordingAudioView
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
    fields = ["minivoice_id", "status", "duration_seconds", "format", "failure_reason_shown"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Recording]:
        return for_reader(super().get_queryset(request), request)

    @admin.display(description="Failure reason")
    def failure_reason_shown(self, recording: Recording) -> str:
        return shown(recording).text(recording.failure_reason) or "-"


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdmin):
    # The QA list: what each recording came to, and a player in the row (get_list_display).
    list_display = [
        "recording_shown",
        "call_shown",
        "outcome_shown",
        "duration_shown",
        "said",
    ]
    list_display_links = ["recording_shown"]
    list_filter = [
        OutcomeFilter,
        DurationFilter,
        FlowFilter,
        WhenFilter,
        DateRangeFilter,
        "transcript_state",
        "status",  # the dashboard's and the call list's counts link here by status
        CallFilter,
    ]
    actions = [fetch_audio_again]
    change_form_template = "admin/recordings/recording/change_form.html"
    change_list_template = "admin/recordings/recording/change_list.html"
    list_select_related = ["call"]
    search_fields = ["minivoice_id"]  # shows the box; the search itself is below
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
        "failure_reason_shown",
        "audio_state",
        "audio_error_shown",
        "audio_tries",
        "audio_size_bytes",
        "audio_sha256",
        "audio_key",
        "audio_stored_at",
        "transcript_state",
        "transcript_shown",
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

    def get_list_display(self, request: HttpRequest) -> list[str]:
        # The player only for those who may listen; the audio view checks again.
        if request.user.has_perm(LISTEN_PERMISSION):
            return [*self.list_display, "player"]
        return self.list_display

    def get_queryset(self, request: HttpRequest) -> QuerySet[Recording]:
        # The page's calls' flows in one query (the exchanges that named one), not one
        # per row; only the page's rows are read, never the count's.
        named_a_flow = (
            AnswerExchange.objects.exclude(flow="")
            .only("call_id", "flow", "flow_version", "flow_draft", "received_at")
            .order_by("received_at")
        )
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("call__answer_exchanges", queryset=named_a_flow, to_attr="flow_exchanges")
            )
        )

    def get_search_results(self, request, queryset, search_term: str):
        """An exact recording or call id; any other term is words said (the transcript's
        full-text search on PostgreSQL, over its index)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        # One lookup at a time, each on a unique index: an OR across the join to calls
        # would make PostgreSQL read every recording.
        for by_id in (
            queryset.filter(minivoice_id=term),
            queryset.filter(call__minivoice_id=term),
        ):
            if by_id.exists():
                return by_id, False
        # The words go along on each row, for the column that shows where they were said.
        found = recordings_saying(term, recordings=queryset)
        return found.annotate(searched=Value(term[:200], output_field=CharField())), False

    def has_fetch_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(FETCH_PERMISSION)

    # -- The QA list's columns ------------------------------------------------------------

    @admin.display(description="Recording", ordering="created_at")
    def recording_shown(self, recording: Recording) -> str:
        """When it started (its page's link), and its id below, quietly."""
        return format_html(
            '{}<div class="mv-quiet">{}</div>',
            timestamp(recording.started_at or recording.created_at),
            recording,
        )

    @admin.display(description="Call and flow", ordering="call__minivoice_id")
    def call_shown(self, recording: Recording) -> str:
        flow = self.flow_shown(recording)
        return format_html('{}<div class="mv-quiet">{}</div>', self.call_link(recording), flow)

    @admin.display(description="Outcome", ordering="status")
    def outcome_shown(self, recording: Recording) -> str:
        """What the recording came to (the outcome filter's words), and why if it failed."""
        outcome = outcome_of(recording)
        reason = ""
        if outcome == "unavailable":
            reason = shown(recording).text(recording.audio_error)
        elif outcome == "failed":
            reason = shown(recording).text(recording.failure_reason)
        elif outcome == "completed" and recording.audio_state == AudioState.PENDING:
            reason = "audio being fetched"
        label = OUTCOMES[outcome][0]
        if not reason:
            return format_html('<span class="mv-out mv-out-{}">{}</span>', outcome, label)
        return format_html(
            '<span class="mv-out mv-out-{}">{}</span><div class="mv-why" title="{}">{}</div>',
            outcome,
            label,
            reason,
            Truncator(reason).chars(90),
        )

    @admin.display(description="Duration", ordering="duration_seconds")
    def duration_shown(self, recording: Recording) -> str:
        seconds = recording.duration_seconds
        if seconds is None:
            return "—"
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"

    @admin.display(description="Flow")
    def flow_shown(self, recording: Recording) -> str:
        """The flow the call first got, with its version (or "draft")."""
        exchanges = recording.call.flow_exchanges
        if not exchanges:
            return "no flow"
        first = exchanges[0]
        if first.flow_draft:
            return f"{first.flow} (draft)"
        if first.flow_version is not None:
            return f"{first.flow} v{first.flow_version}"
        return first.flow

    @admin.display(description="What was said")
    def said(self, recording: Recording) -> str:
        """The transcript's start, or around the words searched for, marked."""
        if recording.transcript_state != TranscriptState.DONE:
            words = {
                TranscriptState.PENDING: "not transcribed yet",
                TranscriptState.FAILED: "transcript failed",
                TranscriptState.OFF: "transcripts off",
            }
            if recording.audio_state != AudioState.STORED:
                return "—"
            state = words[recording.transcript_state]
            return format_html('<span class="mv-quiet">{}</span>', state)
        # Masked before the excerpt is cut, so no cut can split a number out of the mask.
        said = shown(recording).said(recording.transcript)
        return transcript_excerpt(said, getattr(recording, "searched", ""))

    @admin.display(description="Transcript")
    def transcript_shown(self, recording: Recording) -> str:
        return shown(recording).said(recording.transcript) or "-"

    @admin.display(description="Failure reason")
    def failure_reason_shown(self, recording: Recording) -> str:
        return shown(recording).text(recording.failure_reason) or "-"

    @admin.display(description="Audio error")
    def audio_error_shown(self, recording: Recording) -> str:
        return shown(recording).text(recording.audio_error) or "-"

    @admin.display(description="Listen")
    def player(self, recording: Recording) -> str:
        if recording.audio_state != AudioState.STORED:
            return "—"
        # preload="none": a page of 50 players asks for no audio until one is played.
        return format_html(
            '<audio class="mv-row-player" controls preload="none" src="{}" '
            'aria-label="Recording {}"></audio>',
            reverse("admin:recordings_recording_audio", args=[recording.pk]),
            recording,
        )

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


EXCERPT_CHARS = 160


def transcript_excerpt(text: str, words: str) -> str:
    """About EXCERPT_CHARS of `text`: from its start, or around the first of `words`
    found in it (marked), so a reviewer sees why the search found it."""
    if not text:
        return format_html('<span class="mv-quiet">{}</span>', "nothing said")
    for word in sorted(re.findall(r"\w{3,}", words), key=len, reverse=True):
        found = re.search(re.escape(word), text, re.IGNORECASE)
        if found:
            start = max(0, found.start() - EXCERPT_CHARS // 3)
            end = min(len(text), start + EXCERPT_CHARS)
            return format_html(
                "{}{}<mark>{}</mark>{}{}",
                "…" if start else "",
                text[start : found.start()],
                found[0],
                text[found.end() : end],
                "…" if end < len(text) else "",
            )
    return Truncator(text).chars(EXCERPT_CHARS)
