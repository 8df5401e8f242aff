"""Replay: process stored events again through the normal task path, from the admin.

It needs its own permission (`calls.replay_webhookevent`), which the Support group does
not have: reading a call is not the same as acting on it.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from calls.models import Call, WebhookEvent
from calls.processing.handover import Replay, events_replay

REPLAY_PERMISSION = "calls.replay_webhookevent"


class ReplayPermissionMixin:
    """Offers the replay actions only to those with the replay permission (else 403)."""

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REPLAY_PERMISSION)


@admin.action(permissions=["replay"], description="Process again (failed, gave up or stuck)")
def replay_events(modeladmin, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
    _replay(modeladmin, request, queryset)


@admin.action(permissions=["replay"], description="Reprocess its events (failed, gave up or stuck)")
def replay_call_events(modeladmin, request: HttpRequest, queryset: QuerySet[Call]) -> None:
    events = WebhookEvent.objects.filter(
        call_minivoice_id__in=queryset.values("minivoice_id")
    ).exclude(call_minivoice_id="")
    _replay(modeladmin, request, events)


def _replay(modeladmin, request: HttpRequest, events: QuerySet[WebhookEvent]) -> None:
    # Counted before: `Replay.already_done` is counted after sending, so in-process mode
    # (which processes them at once) would count the replayed events as "left alone" too.
    left_alone = events.filter(state__in=WebhookEvent.DONE_STATES).count()
    report(modeladmin, request, events_replay(events=events), left_alone=left_alone)


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
