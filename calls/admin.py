"""The admin support staff use: calls, and every exchange with MiniVoice, read-only.

Calls and recordings are derived from MiniVoice's events, and the logs are evidence, so
nobody edits them by hand here.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from calls import contract, flows
from calls.models import AnswerExchange, Call, WebhookEvent
from recordings.models import Recording


class ReadOnlyAdmin(admin.ModelAdmin):
    # Log tables grow large: skip the second COUNT(*) over the whole table.
    show_full_result_count = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def pretty_json(value: object) -> str:
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', _indent(value))


def _indent(value: object) -> str:
    """JSON laid out for reading; text that is not JSON (a malformed body) as it is."""
    if isinstance(value, str):
        try:
            value = contract.parse_json_object(value.encode())
        except contract.MalformedRequest:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False)


class RecordingInline(admin.TabularInline):
    model = Recording
    fields = ["minivoice_id", "status", "duration_seconds", "format", "failure_reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


# List filters with fixed choices: a plain field filter on a free-text column runs a
# SELECT DISTINCT over the whole table on every page, too slow on a big log.


class DirectionFilter(admin.SimpleListFilter):
    title = "direction"
    parameter_name = "direction"

    def lookups(self, request, model_admin) -> list:
        return [("inbound", "Inbound"), ("outbound", "Outbound")]

    def queryset(self, request, queryset):
        return queryset.filter(direction=self.value()) if self.value() else queryset


class EventTypeFilter(admin.SimpleListFilter):
    title = "event type"
    parameter_name = "event_type"
    OTHER = "other"

    def lookups(self, request, model_admin) -> list:
        known = [(name, name) for name in sorted(contract.KNOWN_EVENTS)]
        return [*known, (self.OTHER, "Other (a type we do not act on)")]

    def queryset(self, request, queryset):
        if self.value() == self.OTHER:
            return queryset.exclude(event_type__in=contract.KNOWN_EVENTS)
        return queryset.filter(event_type=self.value()) if self.value() else queryset


class OutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin) -> list:
        return [
            ("answered", "Answered with the flow"),
            ("fallback", "Answered with the fallback (something failed)"),
            ("refused", "Refused (4xx)"),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "answered":
                return queryset.filter(response_status=200).exclude(flow=flows.FALLBACK_FLOW)
            case "fallback":
                return queryset.filter(flow=flows.FALLBACK_FLOW)
            case "refused":
                return queryset.filter(response_status__gte=400)
        return queryset


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    list_display = [
        "minivoice_id",
        "status",
        "final_status",
        "direction",
        "from_number",
        "to_number",
        "last_step",
        "created_at",
    ]
    list_filter = ["status", "final_status", DirectionFilter]
    search_fields = ["=minivoice_id", "=recordings__minivoice_id", "from_number", "to_number"]
    search_help_text = "A call id or recording id (exact), or part of a phone number."
    inlines = [RecordingInline]
    readonly_fields = ["webhook_events", "answer_exchanges"]
    fieldsets = [
        (None, {"fields": ["minivoice_id", "status", "final_status", "last_step"]}),
        ("Caller", {"fields": ["direction", "from_number", "to_number"]}),
        (
            "Times",
            {"fields": ["started_at", "answered_at", "ended_at", "duration_seconds"]},
        ),
        ("What MiniVoice and we said", {"fields": ["answer_exchanges", "webhook_events"]}),
    ]

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


@admin.register(AnswerExchange)
class AnswerExchangeAdmin(ReadOnlyAdmin):
    list_display = [
        "received_at",
        "call_minivoice_id",
        "method",
        "response_status",
        "flow",
        "duration_ms",
        "failed_to_build",
    ]
    list_filter = [OutcomeFilter]
    search_fields = ["=call_minivoice_id", "=webhook_id"]
    search_help_text = "A call id or a webhook-id, exactly as MiniVoice sent it."
    exclude = ["request_body", "response_body", "request_headers", "variables"]
    readonly_fields = ["request", "response"]

    @admin.display(boolean=True, description="Answer failed to build")
    def failed_to_build(self, exchange: AnswerExchange) -> bool:
        return bool(exchange.error)

    @admin.display(description="What MiniVoice sent")
    def request(self, exchange: AnswerExchange) -> str:
        return pretty_json(
            {
                "headers": exchange.request_headers,
                "query": exchange.query_string,
                "body": exchange.request_body,
                "variables": exchange.variables,
            }
        )

    @admin.display(description="What we returned")
    def response(self, exchange: AnswerExchange) -> str:
        return pretty_json(exchange.response_body)


class CallIdFilter(admin.SimpleListFilter):
    """Lets a link from a call open its events; shows no choices of its own."""

    title = "call"
    parameter_name = "call_minivoice_id"

    def lookups(self, request, model_admin) -> list:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(call_minivoice_id=self.value())
        return queryset


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = [
        "received_at",
        "occurred_at",
        "event_type",
        "call_link",
        "state",
        "attempts",
        "webhook_id",
    ]
    list_filter = ["state", EventTypeFilter, CallIdFilter]
    search_fields = ["=webhook_id", "=call_minivoice_id", "=payload__data__recording_id"]
    search_help_text = "A webhook-id, call id or recording id, exactly as MiniVoice sent it."
    exclude = ["raw_body", "payload", "headers"]
    readonly_fields = ["call_link", "body", "request_headers"]

    @admin.display(description="Call", ordering="call_minivoice_id")
    def call_link(self, event: WebhookEvent) -> str:
        if not event.call_minivoice_id:
            return "—"
        url = reverse("admin:calls_call_changelist")
        query = urlencode({"q": event.call_minivoice_id})
        return format_html('<a href="{}?{}">{}</a>', url, query, event.call_minivoice_id)

    @admin.display(description="Body as received")
    def body(self, event: WebhookEvent) -> str:
        return pretty_json(event.raw_body)

    @admin.display(description="Headers")
    def request_headers(self, event: WebhookEvent) -> str:
        return pretty_json(event.headers)
