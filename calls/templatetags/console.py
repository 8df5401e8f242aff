"""The dashboard on the admin index, as a tag: the stock index view stays as it is."""

from __future__ import annotations

from django import template

from calls.console.dashboard import dashboard

register = template.Library()


@register.inclusion_tag("admin/calls/dashboard.html", takes_context=True)
def support_dashboard(context) -> dict:
    request = context.get("request")
    if request is None or not request.user.has_perm("calls.view_call"):
        return {"shown": False}
    return {"shown": True, **dashboard()}
