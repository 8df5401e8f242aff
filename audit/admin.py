"""The audit trail in the admin: a list to read and filter that nobody, superusers
included, can add to, change or delete from; and the user admin, wrapped so that a change
to a user's groups or access made there is recorded with who made it and from where."""

from __future__ import annotations

import contextlib
import ipaddress

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from audit.models import AuditEntry
from audit.record import Actor
from audit.users import access_changes

# Access a user's page can change besides the groups (which `audit.users` follows
# wherever they change), in words for the entry.
ACCESS_FIELDS = {
    "is_active": "active",
    "is_staff": "staff",
    "is_superuser": "superuser",
}


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = [
        "when",
        "username",
        "action",
        "object_type",
        "object_id",
        "call_link",
        "detail",
        "ip",
    ]
    list_filter = ["action", "at"]
    search_fields = ["username"]  # shows the box; the search itself is below
    search_help_text = "A username, an object's id, a MiniVoice call id or an address, exactly."
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    date_hierarchy = "at"
    list_per_page = 100
    fields = [
        "at",
        "user_id",
        "username",
        "action",
        "object_type",
        "object_id",
        "call_minivoice_id",
        "detail",
        "ip",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["audit/audit.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_actions(self, request: HttpRequest):
        return {}  # not even "delete selected"

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        """Exact values, each on its own column; an address only when the term is one
        (PostgreSQL refuses to compare `inet` with other text)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = Q(username=term) | Q(object_id=term) | Q(call_minivoice_id=term)
        with contextlib.suppress(ValueError):
            matches |= Q(ip=str(ipaddress.ip_address(term)))
        return queryset.filter(matches), False

    @admin.display(description="When", ordering="at")
    def when(self, entry: AuditEntry) -> str:
        """To the second, with the zone, as the console's other times read (on one line:
        audit/static/audit/audit.css)."""
        return timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S %Z")

    @admin.display(description="Call", ordering="call_minivoice_id")
    def call_link(self, entry: AuditEntry) -> str:
        """The call's page, by the URL's name: the trail imports nothing of calls."""
        if not entry.call_minivoice_id:
            return "—"
        url = f"{reverse('admin:calls_call_by_id')}?{urlencode({'id': entry.call_minivoice_id})}"
        return format_html('<a href="{}">{}</a>', url, entry.call_minivoice_id)


User = get_user_model()
# Whatever user admin is registered (Django's, or another app's registered before this
# one), wrapped rather than replaced.
_UserAdmin = type(admin.site.get_model_admin(User))


class AuditedUserAdmin(_UserAdmin):
    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        user = form.instance
        other = [
            f"{words} {'on' if getattr(user, field) else 'off'}"
            for field, words in ACCESS_FIELDS.items()
            if change and field in form.changed_data
        ]
        if change and "user_permissions" in form.changed_data:
            other.append("own permissions changed")
        with access_changes(actor=Actor.of(request), other={user.pk: other}):
            super().save_related(request, form, formsets, change)


admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
