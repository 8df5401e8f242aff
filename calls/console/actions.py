"""Replay: process stored events again through the normal task path, from the admin.

It needs its own permission (`calls.replay_webhookevent`), which the Support group does
not have: reading a call is not the same as acting on it. Each event sent again (and each
call whose events were) leaves an entry on the audit trail; a replay that sends nothing
changes nothing and leaves none.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from audit.models import AuditEntry
from audit.record import About, audit_record_each
from calls.models import Call, WebhookEvent
from calls.processing.handover import Replay, events_replay

REPLAY_PERMISSION = "calls.replay_webhookevent"


class ReplayPermissionMixin:
    """Offers the replay actions only to those with the replay permission (else 403)."""

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REPLAY_PERMISSION)


@admin.action(permissions=["replay"], description="Process again (failed, gave up or stuck)")
def replay_events(modeladmin, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
    replay = _replay(modeladmin, request, queryset)
    sent = WebhookEvent.objects.filter(pk__in=replay.sent).order_by("pk")
    audit_record_each(
        actor=request,
        action=AuditEntry.Action.EVENT_REPLAYED,
        abouts=[
            About.row(event, call_id=event.call_minivoice_id, detail=event.event_type)
            for event in sent.only("pk", "call_minivoice_id", "event_type")
        ],
    )


@admin.action(permissions=["replay"], description="Reprocess its events (failed, gave up or stuck)")
def replay_call_events(modeladmin, request: HttpRequest, queryset: QuerySet[Call]) -> None:
    events = WebhookEvent.objects.filter(
        call_minivoice_id__in=queryset.values("minivoice_id")
    ).exclude(call_minivoice_id="")
    replay = _replay(modeladmin, request, events)
    sent_per_call = dict(
        WebhookEvent.objects.filter(pk__in=replay.sent)
        .values_list("call_minivoice_id")
        .annotate(count=Count("pk"))
        .values_list("call_minivoice_id", "count")
    )
    calls = Call.objects.filter(minivoice_id__in=sent_per_call).only("pk", "minivoice_id")
    audit_record_each(
        actor=request,
        action=AuditEntry.Action.CALL_REPROCESSED,
        abouts=[
            About.row(
                call,
                call_id=call.minivoice_id,
                detail=f"{sent_per_call[call.minivoice_id]} event(s) sent again",
            )
            for call in calls.order_by("pk")
        ],
    )


def _replay(modeladmin, request: HttpRequest, events: QuerySet[WebhookEvent]) -> Replay:
    # Counted before: `Replay.already_done` is counted after sending, so in-process mode
    # (which processes them at once) would count the replayed events as "left alone" too.
    left_alone = events.filter(state__in=WebhookEvent.DONE_STATES).count()
    replay = events_replay(events=events)
    report(modeladmin, request, replay, left_alone=left_alone)
    return replay


def report(modeladmin, request: HttpRequest, replay: Replay, *, left_alone: int) -> None:
    """Say what the replay did, and where the events stand now."""
    if not replay.sent:
        modeladmin.message_user(
            request,
            f"Nothing to process again: {left_alone} event(s) were already done "
            "(processed, ignored or malformed).",
            messages.WARNING,
        )
        return
    states = replay.states_now()
    now = ", ".join(
        f"{count} {WebhookEvent.State(state).label.split(' (')[0].lower()}"
        for state, count in sorted(states.items())
    )
    level = messages.ERROR if states.get("failed") or states.get("gave_up") else messages.SUCCESS
    modeladmin.message_user(
        request,
        f"Sent {len(replay.sent)} event(s) to be processed again (now: {now}); "
        f"{left_alone} already done, left alone.",
        level,
    )
