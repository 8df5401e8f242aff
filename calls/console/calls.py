"""Calls: the list support searches, and the call's page, which is its timeline."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, F, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from audit.models import AuditEntry
from audit.record import About, audit_entries_about_call, audit_record
from calls.console import views
from calls.console.actions import ReplayPermissionMixin, replay_call_events
from calls.console.base import ReadOnlyAdmin, shown, storable, timestamp
from calls.console.extensions import call_page_inlines
from calls.console.filters import (
    DateRangeFilter,
    DirectionFilter,
    FlowFilter,
    FlowStepFilter,
    HasProblemsFilter,
    ProblemCodeFilter,
    WhenFilter,
)
from calls.models import AnswerExchange, Call, CallProblem, WebhookEvent
from calls.recordings_port import RecordingRow, RecordingStatus, recordings


@admin.register(Call)
class CallAdmin(ReplayPermissionMixin, ReadOnlyAdmin):
    list_display = [
        "minivoice_id",
        "when",
        "people",
        "status_shown",
        "duration",
        "recording_outcome",
        "problems_shown",
        "last_step_shown",
    ]
    list_filter = [
        "status",
        "final_status",
        DirectionFilter,
        FlowFilter,
        FlowStepFilter,
        WhenFilter,
        DateRangeFilter,
        HasProblemsFilter,
        ProblemCodeFilter,
    ]
    show_facets = admin.ShowFacets.NEVER
    search_fields = ["minivoice_id"]  # shows the box; the search itself is below
    search_help_text = (
        "A call id or recording id (exact), a phone number (its start is enough), "
        'or words said on a recording ("cancel", "new appointment").'
    )
    actions = [replay_call_events]
    change_form_template = "admin/calls/call/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "minivoice_id",
                    "status_shown",
                    "last_step_words",
                    "last_step_time",
                    "flow_step_shown",
                ]
            },
        ),
        ("Caller", {"fields": ["direction", "from_shown", "to_shown"]}),
        ("Times", {"fields": ["started", "answered", "ended", "duration"]}),
        ("What MiniVoice and we said", {"fields": ["answer_exchanges", "webhook_events"]}),
    ]
    readonly_fields = [
        "minivoice_id",
        "status_shown",
        "last_step_words",
        "last_step_time",
        "flow_step_shown",
        "direction",
        "from_shown",
        "to_shown",
        "started",
        "answered",
        "ended",
        "duration",
        "answer_exchanges",
        "webhook_events",
    ]

    def get_inlines(self, request: HttpRequest, obj: Call | None):
        return [*super().get_inlines(request, obj), *call_page_inlines]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Call]:
        # Two queries per page for the recordings and problem columns, not two per row.
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("recordings", queryset=_one_recording_per_status(), to_attr="outcomes"),
                Prefetch("problems", queryset=CallProblem.objects.order_by("detected_at")),
            )
        )

    def get_search_results(self, request, queryset, search_term: str):
        """Exact ids, phone-number prefixes, or words said: each uses an index at any size.

        A term that is an id, or reads as a number (a digit or + first), is looked up as
        such; any other is words said on the call's recordings (the port's full-text
        search). Never both in one query: inside one OR, a subquery makes PostgreSQL scan
        every call instead of combining indexes.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        numbers = [term]
        if term[0].isdigit():
            numbers.append("+" + term)  # support often types a number without its +
        # The ids first, as two tiny lookups (for the OR's sake, above).
        ids = list(Call.objects.filter(minivoice_id=term).values_list("pk", flat=True))
        ids += recordings().rows().filter(minivoice_id=term).values_list("call_id", flat=True)
        if not ids and not _reads_as_number(term):
            return queryset.filter(pk__in=recordings().calls_saying(term)), False
        matches = Q(pk__in=ids)
        for number in numbers:
            matches |= Q(from_number__startswith=number) | Q(to_number__startswith=number)
        return queryset.filter(matches), False

    def get_urls(self):
        own = [
            path(
                "by-id/",
                self.admin_site.admin_view(self.by_id_view),
                name="calls_call_by_id",
            ),
            path(
                "<int:pk>/timeline.json",
                self.admin_site.admin_view(views.TimelineExportView.as_view(model_admin=self)),
                name="calls_call_timeline_json",
            ),
            path(
                "<int:pk>/live/",
                self.admin_site.admin_view(views.TimelineLiveView.as_view(model_admin=self)),
                name="calls_call_live",
            ),
        ]
        return own + super().get_urls()

    def by_id_view(self, request: HttpRequest):
        """A MiniVoice call id to its page (lists link here without a query per row)."""
        call_id = storable(request.GET.get("id", ""))
        call = Call.objects.filter(minivoice_id=call_id).only("pk").first() if call_id else None
        if call is not None:
            return HttpResponseRedirect(reverse("admin:calls_call_change", args=[call.pk]))
        # Events stored for a call none of them created yet: show those events.
        url = reverse("admin:calls_webhookevent_changelist")
        return HttpResponseRedirect(f"{url}?{urlencode({'call_minivoice_id': call_id})}")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        call = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if call is not None and self.has_view_permission(request, call):
            if request.method == "GET":
                _audit_numbers_seen(request, call)
            extra_context.update(views.timeline_context(call=call, request=request))
            extra_context["audit_entries"] = [
                _audit_line(entry) for entry in audit_entries_about_call(call.minivoice_id)
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    # -- Columns --------------------------------------------------------------------------

    @admin.display(description="When", ordering="created_at")
    def when(self, call: Call) -> str:
        return timestamp(call.started_at or call.created_at)

    @admin.display(description="From → to")
    def people(self, call: Call) -> str:
        numbers = shown(call)
        return (
            f"{numbers.number(call.from_number) or '?'} → {numbers.number(call.to_number) or '?'}"
        )

    @admin.display(description="Status", ordering="status")
    def status_shown(self, call: Call) -> str:
        if call.final_status:
            return f"Ended: {call.get_final_status_display().lower()}"
        return call.get_status_display()

    @admin.display(description="Duration", ordering="duration_seconds")
    def duration(self, call: Call) -> str:
        return "—" if call.duration_seconds is None else f"{call.duration_seconds} s"

    @admin.display(description="Recording")
    def recording_outcome(self, call: Call) -> str:
        """One recording as it ended; several as a count per outcome, each a link to
        those recordings (a call can have a hundred)."""
        if not call.outcomes:
            return "—"
        if len(call.outcomes) == 1 and call.outcomes[0].outcome_count == 1:
            only = call.outcomes[0]
            return format_html('<span class="mv-rec-{}">{}</span>', only.status, _outcome(only))
        counts = {recording.status: recording.outcome_count for recording in call.outcomes}
        each = format_html_join(
            ", ",
            '<a class="mv-rec-{}" href="{}">{} {}</a>',
            (
                (status, _recordings_url(call, status), counts[status], words)
                for status, words in _OUTCOMES.items()
                if status in counts
            ),
        )
        total = sum(counts.values())
        return format_html('<a href="{}">{} recordings</a>: {}', _recordings_url(call), total, each)

    @admin.display(description="Problems")
    def problems_shown(self, call: Call) -> str:
        problems = list(call.problems.all())
        if not problems:
            return "—"
        text = _shown_text(call)
        return format_html_join(
            " ",
            '<span class="mv-problem mv-{}" title="{}">{}</span>',
            ((p.severity, text(p.message), p.get_code_display()) for p in problems),
        )

    @admin.display(description="Last step", ordering="last_step_at")
    def last_step_shown(self, call: Call) -> str:
        """The flow's step the caller reached, and under it the last thing we heard of
        (an event can come after it: the recording started, the call ended)."""
        text = _shown_text(call)
        if not call.flow_position:
            return _shortened(text(call.last_step) or "—")
        # The step's words are on the first line already: the second says what came of it
        # ("say, transfer"; "Call ended (completed) after: say, transfer").
        detail = text(call.last_step.replace(call.flow_position + ": ", ""))
        return format_html(
            '<span class="mv-flow-step">{}</span><br><span class="mv-step-detail">{}</span>',
            _shortened(call.flow_position),
            _shortened(detail or "—"),
        )

    # -- The page's fields ----------------------------------------------------------------

    @admin.display(description="From")
    def from_shown(self, call: Call) -> str:
        return shown(call).number(call.from_number) or "—"

    @admin.display(description="To")
    def to_shown(self, call: Call) -> str:
        return shown(call).number(call.to_number) or "—"

    @admin.display(description="Last step")
    def last_step_words(self, call: Call) -> str:
        return _shown_text(call)(call.last_step) or "—"

    @admin.display(description="Last step reached at")
    def last_step_time(self, call: Call) -> str:
        return timestamp(call.last_step_at)

    @admin.display(description="Flow step")
    def flow_step_shown(self, call: Call) -> str:
        return call.flow_position or "—"

    @admin.display(description="Started")
    def started(self, call: Call) -> str:
        return timestamp(call.started_at)

    @admin.display(description="Answered")
    def answered(self, call: Call) -> str:
        return timestamp(call.answered_at)

    @admin.display(description="Ended")
    def ended(self, call: Call) -> str:
        return timestamp(call.ended_at)

    @admin.display(description="Webhook events")
    def webhook_events(self, call: Call) -> str:
        url = reverse("admin:calls_webhookevent_changelist")
        query = urlencode({"call_minivoice_id": call.minivoice_id})
        count = WebhookEvent.objects.filter(call_minivoice_id=call.minivoice_id).count()
        return format_html('<a href="{}?{}">{} event(s)</a>', url, query, count)

    @admin.display(description="answer_url exchanges")
    def answer_exchanges(self, call: Call) -> str:
        url = reverse("admin:calls_answerexchange_changelist")
        query = urlencode({"q": call.minivoice_id})
        count = AnswerExchange.objects.filter(call_minivoice_id=call.minivoice_id).count()
        return format_html('<a href="{}?{}">{} exchange(s)</a>', url, query, count)


def _shown_text(call: Call):
    """Free text about the call (a step, a problem) as the reader sees its numbers."""
    return shown(call, known=(call.from_number, call.to_number)).text


def _audit_numbers_seen(request: HttpRequest, call: Call) -> None:
    """A reader who sees numbers in full opens a call that has some: on the trail."""
    if (call.from_number or call.to_number) and shown(call).full:
        audit_record(
            actor=request,
            action=AuditEntry.Action.NUMBERS_VIEWED,
            about=About.row(call, call_id=call.minivoice_id, detail="the call's page"),
        )


def _audit_line(entry: AuditEntry) -> str:
    """`Listened to a recording (rec_1) by ana at 2026-05-29 14:02:03 UTC`."""
    detail = f" ({entry.detail})" if entry.detail else ""
    return format_html(
        "{}{} by <strong>{}</strong> at {}",
        entry.get_action_display(),
        detail,
        entry.who,
        timestamp(entry.at),
    )


def _shortened(text: str, length: int = 60) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _reads_as_number(term: str) -> bool:
    return term[0].isdigit() or term[0] == "+"


def _one_recording_per_status() -> QuerySet:
    """A call's recordings, one per status, each with how many share that status.

    The counting is done in the database: a page of calls with a hundred recordings each
    loads at most three rows per call, not a hundred. Which row stands for its status does
    not matter (only a lone recording is shown as itself), so nothing is sorted.
    """
    group = [F("call_id"), F("status")]
    return (
        recordings()
        .rows()
        .only("call_id", "status", "duration_seconds")
        .annotate(
            outcome_count=Window(Count("pk"), partition_by=group),
            rank=Window(RowNumber(), partition_by=group),
        )
        .filter(rank=1)
        .order_by()
    )


# A call's outcomes in the order they are told, each in its words after a count.
_OUTCOMES = {
    RecordingStatus.COMPLETED: "completed",
    RecordingStatus.FAILED: "failed",
    RecordingStatus.STARTED: "not completed",
}


def _recordings_url(call: Call, status: str = "") -> str:
    """The recordings list narrowed to this call (and to one status, if given)."""
    params = {"call_minivoice_id": call.minivoice_id}
    if status:
        params["status__exact"] = status
    return f"{reverse('admin:recordings_recording_changelist')}?{urlencode(params)}"


def _outcome(recording: RecordingRow) -> str:
    if recording.status == RecordingStatus.COMPLETED:
        seconds = recording.duration_seconds
        return f"Completed ({seconds} s)" if seconds is not None else "Completed"
    if recording.status == RecordingStatus.FAILED:
        return "Failed"
    return "Started, not completed"
