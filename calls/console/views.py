"""The call page's timeline, its JSON export and its live refresh.

All three read the same `build_timeline`, so the page, the export and `call_timeline`
never disagree. Each masks phone numbers for a reader who may not see them in full
(calls.privacy) as the last step before it answers: the timeline's HTML as text, the
export as data, transcripts (digits said aloud) before they are rendered.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, replace
from math import ceil

from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.views import APIView

from audit.models import AuditEntry
from audit.record import About, audit_record
from calls import privacy
from calls.console import schema as openapi
from calls.console.base import indent_json, timestamp
from calls.console.charts import lane_chart
from calls.intake.views import IgnoreAcceptHeader
from calls.models import Call
from calls.recordings_port import RecordingRow
from calls.timeline import build_timeline, say_offset, timeline_json
from calls.timeline.lanes import build_lanes
from calls.timeline.types import Entry, Timeline

# Events shown on the page; the rest are a link away. Half from the start, half the end.
MAX_EVENTS = 200
# build_timeline keeps the first half of the events and the last half: the events it
# leaves out come after this many.
HIDDEN_AFTER = ceil(MAX_EVENTS / 2)
# How often a page of a call in progress asks for news, in milliseconds.
POLL_EVERY_MS = 4000


@dataclass(frozen=True)
class Row:
    """One entry of the timeline, prepared for the template."""

    entry: Entry
    offset: str
    at: str
    url: str  # the record's own admin page
    raw: list[tuple[str, str]]  # (label, text) for the expandable details
    happened: str = ""  # an event's time by MiniVoice's clock
    received: str = ""  # when it reached us
    gap_before: int = 0  # events left out just before this row


def numbers_shown(*, call: Call, request: HttpRequest) -> privacy.Shown:
    """The call's numbers as this reader sees them; its own numbers are looked for in any
    shape (a number MiniVoice sent without its +)."""
    return privacy.shown_to(request.user, known=(call.from_number, call.to_number))


def timeline_context(*, call: Call, request: HttpRequest) -> dict:
    timeline = build_timeline(call_id=call.minivoice_id, max_events=MAX_EVENTS)
    return {
        "timeline_html": render_timeline(timeline=timeline, call=call, request=request),
        "live_url": reverse("admin:calls_call_live", args=[call.pk]) if is_live(call) else "",
        "export_url": reverse("admin:calls_call_timeline_json", args=[call.pk]),
        "poll_every_ms": POLL_EVERY_MS,
    }


def is_live(call: Call) -> bool:
    return call.status != Call.Status.ENDED


def render_timeline(*, timeline: Timeline, call: Call, request: HttpRequest) -> str:
    """The request is the reader's: a recording's player shows only to those who may
    listen, and numbers in full only to those who may see them."""
    shown = numbers_shown(call=call, request=request)
    timeline = _transcripts_shown(timeline, shown)
    events_url = reverse("admin:calls_webhookevent_changelist")
    html = render_to_string(
        "admin/calls/call/timeline.html",
        {
            "timeline": timeline,
            "call": call,
            "live": is_live(call),
            "chart": lane_chart(build_lanes(timeline=timeline, hidden_after=HIDDEN_AFTER)),
            "rows": _rows(timeline),
            "has_error": any(problem.severity == "error" for problem in timeline.problems),
            "all_events_url": f"{events_url}?{urlencode({'call_minivoice_id': call.minivoice_id})}",
        },
        request=request,
    )
    # The story, the chart's tooltips, the entries and their exact JSON, all at once. Still
    # safe HTML: the masks replace digits with digits, `+` and bullets, nothing else
    # (calls.privacy), in a page every value of which was escaped as it was rendered.
    return mark_safe(shown.text(html))


def _transcripts_shown(timeline: Timeline, shown: privacy.Shown) -> Timeline:
    """The timeline with its transcripts' numbers said aloud masked (in copies of the
    recordings: nothing read here is ever saved)."""
    if shown.full or not any(recording.transcript for recording in timeline.recordings):
        return timeline
    copies = {
        id(recording): _transcript_shown(recording, shown) for recording in timeline.recordings
    }
    entries = [
        replace(entry, recording=copies[id(entry.recording)])
        if entry.recording is not None and id(entry.recording) in copies
        else entry
        for entry in timeline.entries
    ]
    return replace(timeline, recordings=list(copies.values()), entries=entries)


def _transcript_shown(recording: RecordingRow, shown: privacy.Shown) -> RecordingRow:
    masked = copy.copy(recording)
    masked.transcript = shown.said(recording.transcript)
    masked.transcript_segments = [
        {**segment, "text": shown.said(segment.get("text", ""))}
        if isinstance(segment, dict)
        else segment
        for segment in recording.transcript_segments or []
    ]
    return masked


def _rows(timeline: Timeline) -> list[Row]:
    gap_after = HIDDEN_AFTER if timeline.hidden_entries else None
    rows, webhooks_seen = [], 0
    for entry in timeline.entries:
        gap = 0
        if entry.kind == "webhook":
            if webhooks_seen == gap_after:
                gap = timeline.hidden_entries
            webhooks_seen += 1
        rows.append(
            Row(
                entry=entry,
                offset=say_offset(entry.at, timeline.origin),
                at=timestamp(entry.at),
                url=_admin_url(entry),
                raw=_raw(entry),
                happened=timestamp(entry.event.occurred_at) if entry.event else "",
                received=timestamp(entry.received_at) if entry.received_at else "",
                gap_before=gap,
            )
        )
    return rows


def _admin_url(entry: Entry) -> str:
    if entry.exchange is not None:
        return reverse("admin:calls_answerexchange_change", args=[entry.exchange.pk])
    if entry.event is not None:
        return reverse("admin:calls_webhookevent_change", args=[entry.event.pk])
    if entry.recording is not None and entry.recording.pk:
        return reverse("admin:recordings_recording_change", args=[entry.recording.pk])
    return ""


def _raw(entry: Entry) -> list[tuple[str, str]]:
    """The exact JSON behind an entry, laid out once (never JSON escaped inside JSON).
    Numbers in full here: `render_timeline` masks the page they end up in."""
    full = privacy.Shown(full=True)
    if entry.exchange is not None:
        exchange = entry.exchange
        return [
            ("What we returned", indent_json(exchange.response_body, full)),
            (
                "What MiniVoice sent",
                indent_json(exchange.request_body or exchange.query_string, full),
            ),
            ("Request headers", indent_json(exchange.request_headers, full)),
        ]
    if entry.event is not None:
        event = entry.event
        raw = [("Body as received", indent_json(event.raw_body, full))]
        if event.error:
            raw.append(("Processing error", event.error))
        raw.append(("Headers", indent_json(event.headers, full)))
        return raw
    return []


class _CallView(APIView):
    """A call's JSON for the console, behind the admin's login (`admin_view` sends anyone
    else to it). DRF's view, so that the document (/api/schema/) describes it and its
    refusals are the error envelope; staff only, which also keeps it out of the document
    that others read."""

    model_admin = None
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAdminUser]
    content_negotiation_class = IgnoreAcceptHeader

    def call(self, request: Request, pk: int) -> Call:
        call = get_object_or_404(Call, pk=pk)
        if not self.model_admin.has_view_permission(request, call):
            raise PermissionDenied
        return call


class TimelineExportView(_CallView):
    """The call's timeline as a JSON download, exactly `call_timeline --json`'s shape."""

    @extend_schema(
        operation_id="call_timeline_export",
        summary="A call's timeline as JSON (staff)",
        tags=["Console"],
        parameters=openapi.PARAMETERS,
        responses=openapi.EXPORT_RESPONSES,
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        call = self.call(request, pk)
        shown = numbers_shown(call=call, request=request)
        timeline = build_timeline(call_id=call.minivoice_id, max_events=MAX_EVENTS)
        document = shown.data(timeline_json(timeline))
        body = json.dumps(document, cls=DjangoJSONEncoder, indent=2)
        audit_record(
            actor=request,
            action=AuditEntry.Action.TIMELINE_EXPORTED,
            about=About.row(
                call,
                call_id=call.minivoice_id,
                detail="numbers in full" if shown.full else "numbers masked",
            ),
        )
        response = HttpResponse(body, content_type="application/json")
        safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in call.minivoice_id)
        response["Content-Disposition"] = f'attachment; filename="call-{safe_name}.json"'
        return response


class TimelineLiveView(_CallView):
    """The timeline's HTML as it is now, for a page that polls while the call goes on."""

    @extend_schema(
        operation_id="call_timeline_live",
        summary="A call's timeline as it is now, for its page's live poll (staff)",
        tags=["Console"],
        parameters=openapi.PARAMETERS,
        responses=openapi.LIVE_RESPONSES,
    )
    def get(self, request: Request, pk: int) -> JsonResponse:
        call = self.call(request, pk)
        timeline = build_timeline(call_id=call.minivoice_id, max_events=MAX_EVENTS)
        return JsonResponse(
            {
                "live": is_live(call),
                # Django's request: the template's context processors read it.
                "html": render_timeline(timeline=timeline, call=call, request=request._request),
            }
        )
