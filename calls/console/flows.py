"""Call flows in the admin: the draft edited as a form (a row per step), the checks on the
page, publishing and rollback, the versions with who published them, a diff between any
two, and "Try it".

Flow editors (`calls.roles`) edit and publish; Support sees flows and versions only. The
server's checks decide what can be published, whatever the form let through. Publishing
and rollback go on the audit trail, in the same transaction as the change. A reader who
may neither change flows nor see numbers in full sees the test numbers (staff's own
phones) masked; a flow's own numbers and transfer destinations are the business's lines.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from audit.models import AuditEntry
from audit.record import About, audit_record
from calls import privacy
from calls.flows.checks import Checked
from calls.flows.diff import diff_documents
from calls.flows.document import DocumentError, read_document
from calls.flows.drafts import draft_json
from calls.flows.publishing import (
    PublishRefused,
    flow_check,
    flow_draft_saved,
    flow_publish,
    flow_rollback,
    flows_changed,
)
from calls.flows.trying import NO_INPUT_KEY, flow_try
from calls.models import Flow, FlowStep, FlowVersion

DRAFT = "draft"
PUBLISH_PERMISSION = "calls.publish_flow"


class JsonArea(forms.Textarea):
    """JSON in a monospaced box."""

    def __init__(self, rows: int = 6, cols: int = 70) -> None:
        attrs = {"rows": rows, "cols": cols, "class": "mv-json", "spellcheck": "false"}
        super().__init__(attrs=attrs)


class ActionsField(forms.JSONField):
    """A step's actions, one action a line: a flow is read by its actions."""

    def prepare_value(self, value):
        if isinstance(value, list) and value:
            lines = ",\n".join(f"  {json.dumps(action, ensure_ascii=False)}" for action in value)
            return f"[\n{lines}\n]"
        return super().prepare_value(value)


class FlowStepInline(admin.TabularInline):
    """A row per step: compact enough to read a ten-step flow at a glance."""

    model = FlowStep
    extra = 0
    fields = ["position", "name", "consent", "actions", "next"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "actions":
            kwargs |= {"widget": JsonArea(rows=4, cols=66), "form_class": ActionsField}
        elif db_field.name == "next":
            kwargs["widget"] = JsonArea(rows=4, cols=26)
        elif db_field.name == "name":
            kwargs["widget"] = forms.TextInput(attrs={"size": 14})
        elif db_field.name == "position":
            # A class, not a style attribute: the Content-Security-Policy allows no inline style.
            kwargs["widget"] = forms.NumberInput(attrs={"class": "vIntegerField mv-position"})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ["name", "live", "numbers_shown", "is_default", "requires_consent", "updated_at"]
    list_select_related = ["live_version", "live_set_by"]
    search_fields = ["name"]
    inlines = [FlowStepInline]
    change_form_template = "admin/calls/flow/change_form.html"
    fields = [
        ("name", "is_default", "requires_consent"),
        "first_step",
        "numbers",
        "test_numbers",
        "live_shown",
    ]
    readonly_fields = ["live_shown", "test_numbers_shown"]

    def get_fields(self, request: HttpRequest, obj: Flow | None = None):
        """Test numbers masked for a reader who may not change them nor see them."""
        fields = super().get_fields(request, obj)
        if _masks_test_numbers(request, self, obj):
            return ["test_numbers_shown" if field == "test_numbers" else field for field in fields]
        return fields

    @admin.display(description="test numbers")
    def test_numbers_shown(self, flow: Flow) -> str:
        return ", ".join(privacy.mask_number(str(number)) for number in flow.test_numbers) or "—"

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ("numbers", "test_numbers"):
            kwargs["widget"] = JsonArea(rows=1)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="live version", ordering="live_version__number")
    def live(self, flow: Flow) -> str:
        return f"v{flow.live_version.number}" if flow.live_version else "not published"

    @admin.display(description="numbers")
    def numbers_shown(self, flow: Flow) -> str:
        return ", ".join(map(str, flow.numbers)) or ("every other" if flow.is_default else "—")

    @admin.display(description="live")
    def live_shown(self, flow: Flow) -> str:
        if flow.live_version is None:
            return "Not published: callers never reach this flow (test numbers reach its draft)."
        by = (
            flow.live_set_by.get_username() if flow.live_set_by else "no user: migrate or a command"
        )
        return f"v{flow.live_version.number}, live since {flow.live_since:%Y-%m-%d %H:%M} ({by})"

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        flow_draft_saved(flow=form.instance)

    def delete_model(self, request, obj: Flow) -> None:
        super().delete_model(request, obj)
        flow_draft_saved(flow=obj)  # its numbers go to the default flow at once

    def delete_queryset(self, request, queryset) -> None:
        super().delete_queryset(request, queryset)
        flows_changed()

    # -- The page: checks, versions, publish ---------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        flow = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if flow is not None:
            extra |= self._flow_context(request, flow)
        return super().change_view(request, object_id, form_url, extra)

    def _flow_context(self, request: HttpRequest, flow: Flow) -> dict:
        versions = flow.versions.select_related("published_by").order_by("-number")
        return {
            "checked": _draft_checked(flow),
            "versions": versions,
            "can_publish": request.user.has_perm(PUBLISH_PERMISSION),
            "diff_url": reverse("admin:calls_flow_diff", args=[flow.pk]),
            "try_url": reverse("admin:calls_flow_try", args=[flow.pk]),
        }

    def response_change(self, request, obj: Flow):
        if "_publish" in request.POST:
            return self._publish(request, obj)
        return super().response_change(request, obj)

    def _publish(self, request: HttpRequest, flow: Flow) -> HttpResponse:
        if not request.user.has_perm(PUBLISH_PERMISSION):
            raise PermissionDenied
        page = reverse("admin:calls_flow_change", args=[flow.pk])
        try:
            with transaction.atomic():
                version = flow_publish(flow=flow, by=request.user)
                audit_record(
                    actor=request,
                    action=AuditEntry.Action.FLOW_PUBLISHED,
                    about=About.row(flow, detail=f"{flow.name}: v{version.number}"),
                )
        except PublishRefused as refused:
            self.message_user(
                request,
                f"Not published: {len(refused.checked.errors)} error(s), listed under "
                "Checks. The draft is saved.",
                messages.ERROR,
            )
        except DocumentError as refused:
            self.message_user(request, f"Not published: {refused}", messages.ERROR)
        else:
            self.message_user(request, f"Published {flow.name!r} v{version.number}: live now.")
        return HttpResponseRedirect(page)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:flow_id>/diff/", view(self.diff_view), name="calls_flow_diff"),
            path("<int:flow_id>/try/", view(self.try_view), name="calls_flow_try"),
            path(
                "<int:flow_id>/rollback/<int:number>/",
                view(self.rollback_view),
                name="calls_flow_rollback",
            ),
            *super().get_urls(),
        ]

    def rollback_view(self, request: HttpRequest, flow_id: int, number: int) -> HttpResponse:
        if request.method != "POST" or not request.user.has_perm(PUBLISH_PERMISSION):
            raise PermissionDenied
        version = get_object_or_404(
            FlowVersion.objects.select_related("flow"), flow_id=flow_id, number=number
        )
        try:
            with transaction.atomic():
                flow_rollback(version=version, by=request.user)
                audit_record(
                    actor=request,
                    action=AuditEntry.Action.FLOW_ROLLED_BACK,
                    about=About.row(
                        version.flow, detail=f"{version.flow.name}: v{number} live again"
                    ),
                )
        except PublishRefused as refused:
            self.message_user(request, f"Not made live: {refused}", messages.ERROR)
        else:
            self.message_user(request, f"v{number} is live again.")
        return HttpResponseRedirect(reverse("admin:calls_flow_change", args=[flow_id]))

    def diff_view(self, request: HttpRequest, flow_id: int) -> HttpResponse:
        flow = self._viewable(request, flow_id)
        live = str(flow.live_version.number) if flow.live_version else DRAFT
        before = request.GET.get("before", live)
        after = request.GET.get("after", DRAFT)
        documents = {side: _document_json(flow, side) for side in (before, after)}
        if _masks_test_numbers(request, self, flow):
            documents = {side: _test_numbers_masked(doc) for side, doc in documents.items()}
        if any(document is None for document in documents.values()):
            return self._page(
                request, flow, "diff", {"unknown": True, "before": before, "after": after}
            )
        context = {
            "before": before,
            "after": after,
            "diff": diff_documents(documents[before], documents[after]),
            "choices": [DRAFT, *(str(n) for n in flow.versions.values_list("number", flat=True))],
        }
        return self._page(request, flow, "diff", context)

    def try_view(self, request: HttpRequest, flow_id: int) -> HttpResponse:
        flow = self._viewable(request, flow_id)
        version = request.GET.get("version", DRAFT)
        raw = _document_json(flow, version)
        context: dict = {"version": version, "versions": flow.versions.order_by("-number")}
        try:
            document = read_document(raw if raw is not None else {})
        except DocumentError as refused:
            context["shape_errors"] = refused.problems
            return self._page(request, flow, "try", context)
        keys = [key for key in request.GET.getlist("keys") if key]
        tried = flow_try(document, keys)
        context |= {
            "tried": tried,
            "keys": keys,
            "rows": [_tried_row(document, step) for step in tried.steps],
            "no_input": NO_INPUT_KEY,
        }
        return self._page(request, flow, "try", context)

    def _viewable(self, request: HttpRequest, flow_id: int) -> Flow:
        flow = get_object_or_404(Flow.objects.select_related("live_version"), pk=flow_id)
        if not self.has_view_permission(request, flow):
            raise PermissionDenied
        return flow

    def _page(self, request: HttpRequest, flow: Flow, page: str, context: dict) -> HttpResponse:
        return TemplateResponse(
            request,
            f"admin/calls/flow/{page}.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": flow,
                "title": f"{flow.name}: {'diff' if page == 'diff' else 'try it'}",
                "change_url": reverse("admin:calls_flow_change", args=[flow.pk]),
                **context,
            },
        )


def _masks_test_numbers(request: HttpRequest, model_admin: FlowAdmin, flow: Flow | None) -> bool:
    if privacy.sees_full_numbers(request.user):
        return False
    return not model_admin.has_change_permission(request, flow)


def _test_numbers_masked(document: dict | None) -> dict | None:
    if not isinstance(document, dict) or not isinstance(document.get("test_numbers"), list):
        return document
    masked = [privacy.mask_number(str(number)) for number in document["test_numbers"]]
    return {**document, "test_numbers": masked}


def _draft_checked(flow: Flow) -> Checked | DocumentError:
    try:
        return flow_check(document=read_document(draft_json(flow)), flow=flow)
    except DocumentError as refused:
        return refused


def _document_json(flow: Flow, side: str) -> dict | None:
    if side == DRAFT:
        return draft_json(flow)
    if not side.isdigit():
        return None
    return flow.versions.filter(number=int(side)).values_list("document", flat=True).first()


def _tried_row(document, tried) -> dict:
    step = document.steps[tried.step]
    return {
        "step": tried,
        "actions": json.dumps(tried.actions, indent=2),
        "options": [key for key in step.next if key not in ("no_input", "other", "redirect")]
        if step.hands_back == "collect"
        else [],
        "consent": step.consent,
        "warning": tried.recording,
    }
