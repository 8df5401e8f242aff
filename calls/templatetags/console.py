"""The dashboard on the admin index, as a tag: the stock index view stays as it is."""

from __future__ import annotations

from django import template
from django.utils import timezone

from calls.console.dashboard import dashboard
from calls.console.snapshot import dashboard_snapshot

register = template.Library()


@register.inclusion_tag("admin/calls/dashboard.html", takes_context=True)
def support_dashboard(context) -> dict:
    request = context.get("request")
    if request is None or not request.user.has_perm("calls.view_call"):
        return {"shown": False}
    now = timezone.now()
    snapshot = dashboard_snapshot(now=now)
    return {
        "shown": True,
        "counted_here": snapshot.counted_here,
        **dashboard(counts=snapshot.counts, taken_at=snapshot.taken_at, now=now),
    }
