"""The logs: answer_url exchanges and webhook events as received, and the problems found.

Read-only for everyone: they are evidence. Each row links back to its call.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from calls import flows
from calls.console.actions import ReplayPermissionMixin, replay_events
from calls.console.base import (
    ReadOnlyAdmin,
    action_names,
    link_to_call,
    pretty_json,
    shown,
    timestamp,
)
from calls.console.filters import (
    CallIdFilter,
    EventTypeFilter,
    OutcomeFilter,
    ReceivedDateRangeFilter,
    ReceivedWhenFilter,
    UnusableCallIdFilter,
)
from calls.models import AnswerExchange, CallProblem, WebhookEvent
from calls.protocol import contract
from calls.recordings_port import recordings


@admin.register(AnswerExchange)
class AnswerExchangeAdmin(ReadOnlyAdmin):
    list_display = [
        "when",
        "call_link",
        "method",
        "response_status",
        "returned_actions",
        "flow",
        "latency",
        "outcome",
    ]
    list_filter = [OutcomeFilter, ReceivedWhenFilter, ReceivedDateRangeFilter]
    # `__exact`, not `=`: Django's `=` compares UPPER() of both sides, which no index
    # serves, so every search read the whole table.
    search_fields = ["call_minivoice_id__exact", "webhook_id__exact"]
    search_help_text = "A call id or a webhook-id, exactly as MiniVoice sent it."
    show_facets = admin.ShowFacets.NEVER
    fields = [
        "call_link",
        "when",
        "happened",
        "method",
        "webhook_id",
        "flow",
        "response_status",
        "latency",
        "outcome",
        "error_shown",
        "request",
        "response",
    ]
    readonly_fields = fields

    @admin.display(description="Received", ordering="received_at")
    def when(self, exchange: AnswerExchange) -> str:
        return timestamp(exchange.received_at)

    @admin.display(description="Asked at (MiniVoice's clock)")
    def happened(self, exchange: AnswerExchange) -> str:
        return timestamp(exchange.occurred_at)

    @admin.display(description="Call", ordering="call_minivoice_id")
    def call_link(self, exchange: AnswerExchange) -> str:
        return link_to_call(exchange.call_minivoice_id)

    @admin.display(description="Actions we returned")
    def returned_actions(self, exchange: AnswerExchange) -> str:
        return action_names(exchange.response_body) or "—"

    @admin.display(description="Took", ordering="duration_ms")
    def latency(self, exchange: AnswerExchange) -> str:
        return f"{exchange.duration_ms:.1f} ms"

    @admin.display(description="Outcome")
    def outcome(self, exchange: AnswerExchange) -> str:
        # Words, not a boolean: a red ✗ on every healthy row read as a failure.
        if exchange.response_status >= 400:
            return format_html('<span class="mv-bad">Refused ({})</span>', exchange.response_status)
        if exchange.flow == flows.FALLBACK_FLOW or exchange.error:
            return SafeString('<span class="mv-bad">Fallback: apology and hang up</span>')
        return "Answered"

    @admin.display(description="What MiniVoice sent")
    def request(self, exchange: AnswerExchange) -> str:
        return pretty_json(
            {
                "headers": exchange.request_headers,
                "query": exchange.query_string,
                "body": _json_or_text(exchange.request_body),
                "variables": exchange.variables,
            },
            shown(exchange),
        )

    @admin.display(description="What we returned")
    def response(self, exchange: AnswerExchange) -> str:
        return pretty_json(exchange.response_body, shown(exchange))

    @admin.display(description="Error")
    def error_shown(self, exchange: AnswerExchange) -> str:
        return shown(exchange).text(exchange.error) or "-"


def _json_or_text(body: str) -> object:
    """A JSON body nested as JSON, not as a string of escaped JSON."""
    try:
        return contract.parse_json_object(body.encode())
    except contract.MalformedRequest:
        return body


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReplayPermissionMixin, ReadOnlyAdmin):
    list_display = [
        "when",
        "happened",
        "event_type",
        "call_link",
        "state",
        "deliveries",
        "attempts",
        "short_webhook_id",
    ]
    list_filter = [
        "state",
        EventTypeFilter,
        UnusableCallIdFilter,
        ReceivedWhenFilter,
        ReceivedDateRangeFilter,
        CallIdFilter,
    ]
    search_fields = ["webhook_id"]  # shows the box; the search itself is below
    search_help_text = "A webhook-id, call id or recording id, exactly as MiniVoice sent it."
    show_facets = admin.ShowFacets.NEVER
    actions = [replay_events]
    fields = [
        "call_link",
        "event_type",
        "webhook_id",
        "happened",
        "when",
        "deliveries",
        "state",
        "attempts",
        "next_try",
        "processed",
        "error_shown",
        "body",
        "request_headers",
    ]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term: str):
        """Exact ids only, each found through an index at any size: the webhook-id, the
        call id, and a recording id through its recording's call (its events are that
        call's events that name it)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = Q(webhook_id=term) | Q(call_minivoice_id=term)
        recorded_calls = list(
            recordings()
            .rows()
            .filter(minivoice_id=term)
            .values_list("call__minivoice_id", flat=True)
        )
        if recorded_calls:
            matches |= Q(call_minivoice_id__in=recorded_calls, payload__data__recording_id=term)
        return queryset.filter(matches), False

    @admin.display(description="Received", ordering="received_at")
    def when(self, event: WebhookEvent) -> str:
        return timestamp(event.received_at)

    @admin.display(description="Happened (MiniVoice's clock)", ordering="occurred_at")
    def happened(self, event: WebhookEvent) -> str:
        return timestamp(event.occurred_at)

    # Every time on the console reads the same way: to the second, with its zone.
    @admin.display(description="Next try")
    def next_try(self, event: WebhookEvent) -> str:
        return timestamp(event.next_attempt_at)

    @admin.display(description="Processed")
    def processed(self, event: WebhookEvent) -> str:
        return timestamp(event.processed_at)

    @admin.display(description="Call", ordering="call_minivoice_id")
    def call_link(self, event: WebhookEvent) -> str:
        return link_to_call(event.call_minivoice_id)

    @admin.display(description="Webhook id", ordering="webhook_id")
    def short_webhook_id(self, event: WebhookEvent) -> str:
        # Whole on the event's page and in search; cut here so the list fits the window.
        shown = event.webhook_id if len(event.webhook_id) <= 16 else event.webhook_id[:15] + "…"
        return format_html('<span title="{}">{}</span>', event.webhook_id, shown)

    @admin.display(description="Body as received")
    def body(self, event: WebhookEvent) -> str:
        return pretty_json(event.raw_body, shown(event))

    @admin.display(description="Headers")
    def request_headers(self, event: WebhookEvent) -> str:
        return pretty_json(event.headers, shown(event))

    @admin.display(description="Processing error")
    def error_shown(self, event: WebhookEvent) -> str:
        # A traceback can quote the payload it failed on.
        return shown(event).text(event.error) or "-"


@admin.register(CallProblem)
class CallProblemAdmin(ReadOnlyAdmin):
    list_display = ["detected", "call_link", "code", "severity", "message_shown"]
    list_filter = ["code", "severity"]
    list_select_related = ["call"]
    search_fields = ["call__minivoice_id__exact"]
    search_help_text = "A call id, exactly as MiniVoice sent it."
    show_facets = admin.ShowFacets.NEVER
    fields = ["call_link", "code", "severity", "message_shown", "detected", "notified_at"]
    readonly_fields = fields

    @admin.display(description="Found", ordering="detected_at")
    def detected(self, problem: CallProblem) -> str:
        return timestamp(problem.detected_at)

    @admin.display(description="Message")
    def message_shown(self, problem: CallProblem) -> str:
        return shown(problem).text(problem.message)

    @admin.display(description="Call", ordering="call__minivoice_id")
    def call_link(self, problem: CallProblem) -> str:
        url = reverse("admin:calls_call_change", args=[problem.call_id])
        return format_html('<a href="{}">{}</a>', url, problem.call.minivoice_id)
