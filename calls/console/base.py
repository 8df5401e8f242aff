"""What every support page shares: read-only log admins, a paginator that does not count
millions of rows, MiniVoice's JSON shown as JSON, and phone numbers as the reader may see
them (calls.privacy)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cached_property

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import BooleanField, Model, QuerySet, Value
from django.http import HttpRequest, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from calls import privacy
from calls.protocol import contract
from calls.protocol.actions import action_name


class CappedCountPaginator(Paginator):
    """Counts at most `CAP` + 1 rows, so a page of a million-row log stays fast.

    `show_full_result_count = False` only drops the second count: the changelist still
    asks its paginator for `count`, which is a `COUNT(*)` over every matching row. Here it
    is `COUNT(*)` over a subquery with a LIMIT, and the page links stop at the cap (sort,
    search or filter to reach older rows).

    The subquery is not ordered: any CAP + 1 matching rows count the same, and sorting
    them first made PostgreSQL read every match (a million-call list filtered by "with
    problems": 130 ms sorted, 30 ms not; bench/LOG.md, bench-scale).
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.CAP


class ReadOnlyAdmin(admin.ModelAdmin):
    """A log or derived table: people read it, nobody edits it here."""

    paginator = CappedCountPaginator
    # Log tables grow large: skip the second COUNT(*) over the whole table.
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return for_reader(super().get_queryset(request), request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        request.GET = storable_query(request.GET)
        # Posting an action one may not use (delete, replay without the permission) is a
        # 403, not the stock "No action selected" that reads as if it could have worked.
        action = request.POST.get("action", "") if request.method == "POST" else ""
        if action and action not in self.get_actions(request):
            raise PermissionDenied
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME) if action else []
        if not all(value.isascii() and value.isdigit() for value in selected):
            # The stock admin answers a hand-made non-numeric selection with a 500.
            messages.error(request, "Ignored the request: the rows chosen are not row ids.")
            return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)


def for_reader(queryset: QuerySet, request: HttpRequest) -> QuerySet:
    """Each row says whether this request's reader sees numbers in full.

    The admin's column and field methods get the row, never the request, and a ModelAdmin
    serves every thread at once: an annotation is the request's own, on its own rows.
    """
    full = privacy.sees_full_numbers(request.user)
    return queryset.annotate(numbers_in_full=Value(full, output_field=BooleanField()))


def shown(row: Model, *, known: tuple[str, ...] = ()) -> privacy.Shown:
    """Numbers as the reader of `row` (see `for_reader`) sees them; masked unless told."""
    return privacy.Shown(full=bool(getattr(row, "numbers_in_full", False)), known=known)


def storable(text: str) -> str:
    """Text as the database keeps it: NUL (which PostgreSQL refuses) becomes U+FFFD, as
    intake stores it, so a search or filter finds what was stored instead of failing."""
    return text.replace("\x00", "\ufffd")


def storable_query(query: QueryDict) -> QueryDict:
    if not any("\x00" in key + value for key, values in query.lists() for value in values):
        return query
    cleaned = QueryDict(mutable=True)
    for key, values in query.lists():
        cleaned.setlist(storable(key), [storable(value) for value in values])
    return cleaned


def pretty_json(value: object, shown: privacy.Shown) -> str:
    """JSON laid out for reading, escaped once, its numbers as the reader may see them;
    text that is not JSON as it is."""
    return format_html('<pre class="mv-json">{}</pre>', indent_json(value, shown))


def indent_json(value: object, shown: privacy.Shown) -> str:
    if isinstance(value, str):
        try:
            value = contract.parse_json_object(value.encode())
        except contract.MalformedRequest:
            return shown.text(value)
    return json.dumps(shown.data(value), indent=2, ensure_ascii=False)


def call_url(call_id: str) -> str:
    """The call's page for a MiniVoice call id, without a query per row of a list."""
    return f"{reverse('admin:calls_call_by_id')}?{urlencode({'id': call_id})}"


def link_to_call(call_id: str) -> str:
    if not call_id:
        return "—"
    return format_html('<a href="{}">{}</a>', call_url(call_id), call_id)


def timestamp(value: datetime | None) -> str:
    """A time to the second with its zone, in the current time zone: 2026-05-29 12:00:03 UTC."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}">{}</time>', value.isoformat(), local.strftime("%Y-%m-%d %H:%M:%S %Z")
    )


def action_names(response_body: str) -> str:
    """The actions an answer returned, as one compact row: `say → record → hangup`."""
    try:
        payload = json.loads(response_body)
    except ValueError:
        return ""
    actions = payload.get("actions") if isinstance(payload, dict) else None
    if not isinstance(actions, list):
        return ""
    return " → ".join(action_name(action) or "?" for action in actions)
