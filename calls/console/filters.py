"""List filters for support's lists.

Every filter has fixed choices: a plain field filter on a free-text column runs a SELECT
DISTINCT over the whole table on every page, too slow on a big log.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from calls import flows
from calls.models import CallProblem, Flow
from calls.protocol import contract


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


class UnusableCallIdFilter(admin.SimpleListFilter):
    """Events set aside (ignored) because they named no call id, or one we cannot use
    (too long, control characters): processing keeps the reason in the event's error."""

    title = "call id"
    parameter_name = "call_id_problem"
    # How processing words an event that names no call id at all (calls.processing.batch).
    MISSING = "The event names no call id"

    def lookups(self, request, model_admin) -> list:
        return [
            ("unusable", "Sent, but unusable (event ignored)"),
            ("missing", "None sent (event ignored)"),
        ]

    def queryset(self, request, queryset):
        set_aside = queryset.filter(state="ignored", call_minivoice_id="").exclude(error="")
        match self.value():
            case "unusable":
                return set_aside.exclude(error__startswith=self.MISSING)
            case "missing":
                return set_aside.filter(error__startswith=self.MISSING)
        return queryset


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


class CallIdFilter(admin.SimpleListFilter):
    """Lets a link from a call open its rows (events, recordings); shows no choices of its
    own, only the call chosen, so that support sees the list is narrowed and can undo it."""

    title = "call"
    parameter_name = "call_minivoice_id"
    lookup = "call_minivoice_id"  # where the model keeps its call's MiniVoice id

    def lookups(self, request, model_admin) -> list:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.lookup: self.value()})
        return queryset


class HasProblemsFilter(admin.SimpleListFilter):
    title = "problems"
    parameter_name = "has_problems"

    def lookups(self, request, model_admin) -> list:
        return [("yes", "With problems"), ("no", "Without problems")]

    def queryset(self, request, queryset):
        # EXISTS over the (call, code) unique index: no join that repeats rows.
        problems = CallProblem.objects.filter(call=OuterRef("pk"))
        match self.value():
            case "yes":
                return queryset.filter(Exists(problems))
            case "no":
                return queryset.exclude(Exists(problems))
        return queryset


class ProblemCodeFilter(admin.SimpleListFilter):
    title = "problem"
    parameter_name = "problem"

    def lookups(self, request, model_admin) -> list:
        return CallProblem.Code.choices

    def queryset(self, request, queryset):
        if self.value() in CallProblem.Code.values:
            problems = CallProblem.objects.filter(call=OuterRef("pk"), code=self.value())
            return queryset.filter(Exists(problems))
        return queryset


class FlowFilter(admin.SimpleListFilter):
    """The flow of a call's last answer (`Call.flow`, the head of an index)."""

    title = "flow"
    parameter_name = "flow"

    def lookups(self, request, model_admin) -> list:
        names = dict.fromkeys(Flow.objects.values_list("name", flat=True))
        if self.value() and self.value() != flows.FALLBACK_FLOW:
            names[self.value()] = None  # a flow deleted since: its calls are still found
        return [
            *((name, name) for name in names),
            (flows.FALLBACK_FLOW, "Fallback (no flow could answer)"),
        ]

    def queryset(self, request, queryset):
        return queryset.filter(flow=self.value()) if self.value() else queryset

    def choices(self, changelist):
        # Another flow has other steps: a step chosen in this one goes with it.
        step = FlowStepFilter.parameter_name
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name, step]),
            "display": "All",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: lookup}, remove=[step]
                ),
                "display": title,
            }


class FlowStepFilter(admin.SimpleListFilter):
    """The flow's step of a call's last answer, within the flow chosen: the steps of its
    draft and of its latest versions. Without a flow there is nothing to choose from, and
    a step alone is ignored (it would read every call: the index starts with the flow)."""

    title = "last step"
    parameter_name = "flow_step"
    VERSIONS = 20  # older versions' steps are rarely asked for; a URL still reaches them

    def __init__(self, request, params, model, model_admin):
        # The flow's own filter takes its parameter out of `params`: read it from the URL.
        self.flow = request.GET.get(FlowFilter.parameter_name, "")
        super().__init__(request, params, model, model_admin)
        if self.value() and not self.flow:
            messages.warning(request, "Ignored the last step: choose a flow first.")

    def lookups(self, request, model_admin) -> list:
        if not self.flow:
            return []
        flow = Flow.objects.filter(name=self.flow).first()
        if flow is None:
            names = []
        else:
            names = list(flow.steps.values_list("name", flat=True))
            for document in flow.versions.order_by("-number").values_list("document", flat=True)[
                : self.VERSIONS
            ]:
                steps = document.get("steps") if isinstance(document, dict) else None
                names += list(steps) if isinstance(steps, dict) else []
        if self.value():
            names.append(self.value())  # what the URL asks for stays shown, and undoable
        return [(name, name) for name in dict.fromkeys(names)]

    def queryset(self, request, queryset):
        if self.value() and self.flow:
            return queryset.filter(flow=self.flow, flow_step=self.value())
        return queryset


# -- Dates ---------------------------------------------------------------------------------


def since(preset: str, *, now: datetime | None = None) -> datetime | None:
    """The start of a preset period ("today", "24h", "7d"), in the current time zone."""
    now = timezone.localtime(now)
    match preset:
        case "today":
            return now.replace(hour=0, minute=0, second=0, microsecond=0)
        case "24h":
            return now - timedelta(hours=24)
        case "7d":
            return now - timedelta(days=7)
    return None


class WhenFilter(admin.SimpleListFilter):
    """Today, the last 24 hours or 7 days, on the model's `date_field` (indexed)."""

    title = "when"
    parameter_name = "when"
    date_field = "created_at"

    def lookups(self, request, model_admin) -> list:
        return [("today", "Today"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")]

    def queryset(self, request, queryset):
        start = since(self.value() or "")
        return queryset.filter(**{f"{self.date_field}__gte": start}) if start else queryset


class ReceivedWhenFilter(WhenFilter):
    date_field = "received_at"


class DateRangeFilter(admin.ListFilter):
    """From one date (or date and time) to another, both optional, in the current time zone.

    A value that is not a date is ignored with a message, never an error page.
    """

    title = "date range"
    template = "admin/calls/date_range_filter.html"
    date_field = "created_at"
    parameters = ("since", "until")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.bounds: dict[str, datetime] = {}
        for name in self.parameters:
            if name not in params:
                continue
            raw = params.pop(name)[-1].strip()
            self.used_parameters[name] = raw
            if not raw:
                continue
            bound = _parse_bound(raw, end=name == "until")
            if bound is None:
                messages.warning(
                    request,
                    f"Ignored {name}={raw[:40]!r}: give a date like 2026-05-29 "
                    "or a time like 2026-05-29T12:00.",
                )
            else:
                self.bounds[name] = bound

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return list(self.parameters)

    def queryset(self, request, queryset):
        if "since" in self.bounds:
            queryset = queryset.filter(**{f"{self.date_field}__gte": self.bounds["since"]})
        if "until" in self.bounds:
            queryset = queryset.filter(**{f"{self.date_field}__lt": self.bounds["until"]})
        return queryset

    def choices(self, changelist):
        # One "choice": the form, carrying the list's other parameters along.
        yield {
            "since": self.used_parameters.get("since", ""),
            "until": self.used_parameters.get("until", ""),
            "hidden": [
                (key, value)
                for key, value in changelist.params.items()
                if key not in self.parameters
            ],
            "clear": changelist.get_query_string(remove=list(self.parameters)),
        }


class ReceivedDateRangeFilter(DateRangeFilter):
    date_field = "received_at"


def _parse_bound(raw: str, *, end: bool) -> datetime | None:
    """A date means its whole day: `until` a date is up to the end of that day."""
    try:
        moment = parse_datetime(raw)
        day = None if moment else parse_date(raw)
    except ValueError:  # well-formed but impossible, like 2026-02-30
        return None
    if moment is None and day is None:
        return None
    if moment is None:
        moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
