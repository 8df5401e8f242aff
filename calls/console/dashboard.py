"""The admin index's dashboard: the last 24 hours and 7 days at a glance.

A handful of aggregate queries over indexed date ranges (created_at, received_at), each
figure a link to the list it counts. Each job apart: the queries (`dashboard_counts`), the
figures made of their counts, the links to the lists they count, and the charts. The
page does not run the queries itself: it shows the counts `calls.console.snapshot` keeps
(counted by beat, or by a page that found them a minute old), with their time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from calls.console.charts import COLOURS, Bar, bar_chart, row_chart
from calls.models import Call, CallProblem, WebhookEvent
from calls.recordings_port import RecordingStatus
from calls.recordings_port import recordings as recordings_port

PERIODS = [("24h", "Last 24 hours", timedelta(hours=24)), ("7d", "Last 7 days", timedelta(days=7))]
FAILED_STATES = [WebhookEvent.State.FAILED, WebhookEvent.State.GAVE_UP]


def dashboard(*, counts: Counts, taken_at: datetime, now: datetime) -> dict:
    """What the dashboard's template shows: `counts` as counted at `taken_at` (kept by
    `calls.console.snapshot`, read at `now`)."""
    links = {key: period_links(key) for key, _, _ in PERIODS}
    periods = [
        Period(
            key,
            title,
            period_figures(counts.periods[key], links[key]),
            problem_figures(counts.periods[key], links[key]),
        )
        for key, title, _ in PERIODS
    ]
    return {
        "periods": periods,
        "calls_per_hour": _calls_per_hour_chart(counts.calls_per_hour),
        "recording_outcomes": _recording_outcomes_chart(counts, links),
        "taken_at": taken_at,
        "age_seconds": max(0, round((now - taken_at).total_seconds())),
    }


# -- The queries ------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodCounts:
    calls: int
    in_progress: int
    completed: int
    recordings: dict[str, int]  # by status
    failed_events: int  # failed or gave up
    problems: dict[str, int]  # calls with each problem code, in code order


@dataclass(frozen=True)
class Counts:
    periods: dict[str, PeriodCounts]  # by period key
    calls_per_hour: list[tuple[datetime, int]]  # the last 24 hours (local), oldest first


def dashboard_counts(*, now: datetime) -> Counts:
    """Every number the dashboard shows, in five aggregate queries."""
    week = now - timedelta(days=7)
    starts = {key: now - length for key, _, length in PERIODS}

    def per_period(date_field: str, **conditions: Q) -> dict:
        """A count per condition and period, named `<condition>_<period>`."""
        return {
            f"{name}_{key}": Count("pk", filter=Q(**{f"{date_field}__gte": start}) & condition)
            for key, start in starts.items()
            for name, condition in conditions.items()
        }

    calls = Call.objects.filter(created_at__gte=week).aggregate(
        **per_period(
            "created_at",
            all=Q(),
            live=Q(status=Call.Status.IN_PROGRESS),
            completed=Q(final_status=Call.FinalStatus.COMPLETED),
        )
    )
    recordings = (
        recordings_port()
        .rows()
        .filter(created_at__gte=week)
        .aggregate(
            **per_period(
                "created_at", **{status: Q(status=status) for status in RecordingStatus.values}
            )
        )
    )
    # The state in the WHERE, not only in the FILTER: the partial index on troubled events
    # (calls_event_trouble_idx) then finds the few failed ones, where the week's millions
    # of processed events were read one by one (2 s of the 2.2 s at 6,000,000 a week).
    events = WebhookEvent.objects.filter(received_at__gte=week, state__in=FAILED_STATES).aggregate(
        **per_period("received_at", failed=Q())
    )
    problems = list(
        CallProblem.objects.filter(call__created_at__gte=week)
        .values("code")
        .annotate(
            **{
                # One row per call and code (a unique constraint): no DISTINCT needed.
                key: Count("call", filter=Q(call__created_at__gte=start))
                for key, start in starts.items()
            }
        )
        .order_by("code")
    )
    hours = _last_24_hours(now)
    tz = timezone.get_current_timezone()
    per_hour = (
        Call.objects.filter(created_at__gte=hours[0])
        .annotate(hour=TruncHour("created_at", tzinfo=tz))
        .values("hour")
        .annotate(count=Count("pk"))
        .values_list("hour", "count")
    )
    per_hour = {timezone.localtime(hour, tz): count for hour, count in per_hour}
    return Counts(
        periods={
            key: PeriodCounts(
                calls=calls[f"all_{key}"],
                in_progress=calls[f"live_{key}"],
                completed=calls[f"completed_{key}"],
                recordings={
                    status: recordings[f"{status}_{key}"] for status in RecordingStatus.values
                },
                failed_events=events[f"failed_{key}"],
                problems={row["code"]: row[key] for row in problems},
            )
            for key in starts
        },
        calls_per_hour=[(hour, per_hour.get(hour, 0)) for hour in hours],
    )


def _last_24_hours(now: datetime) -> list[datetime]:
    """The starts of the last 24 hours in the current time zone, this one last."""
    last = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    return [last - timedelta(hours=back) for back in range(23, -1, -1)]


# -- The figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    url: str
    bad: bool = False  # drawn in red: something for support to look at


@dataclass(frozen=True)
class Period:
    key: str
    title: str
    figures: list[Figure]
    problems: list[Figure] = field(default_factory=list)


def period_figures(counts: PeriodCounts, links: dict[str, str]) -> list[Figure]:
    """A period's figures, each with the link (from `period_links`) to what it counts."""
    recorded = counts.recordings[RecordingStatus.COMPLETED]
    failed = counts.recordings[RecordingStatus.FAILED]
    finished = recorded + failed
    return [
        Figure("Calls", str(counts.calls), links["calls"]),
        Figure("In progress now", str(counts.in_progress), links["in_progress"]),
        Figure("Completed", str(counts.completed), links["completed"]),
        Figure(
            f"Recording success rate ({recorded} of {finished} finished)",
            f"{100 * recorded / finished:.0f} %" if finished else "—",
            links["recordings_completed"],
        ),
        Figure("Recordings failed", str(failed), links["recordings_failed"], bad=failed > 0),
        Figure(
            "Recordings started, not completed",
            str(counts.recordings[RecordingStatus.STARTED]),
            links["recordings_started"],
        ),
        Figure(
            "Events failed processing (failed or gave up)",
            str(counts.failed_events),
            links["failed_events"],
            bad=counts.failed_events > 0,
        ),
    ]


def problem_figures(counts: PeriodCounts, links: dict[str, str]) -> list[Figure]:
    """Calls with each problem seen in the period (a code no longer known is left out)."""
    return [
        Figure(CallProblem.Code(code).label, str(count), links[f"problem_{code}"], bad=True)
        for code, count in counts.problems.items()
        if count and code in CallProblem.Code.values
    ]


# -- The links --------------------------------------------------------------------------

CALLS = "admin:calls_call_changelist"
RECORDINGS = "admin:recordings_recording_changelist"
EVENTS = "admin:calls_webhookevent_changelist"


def period_links(key: str) -> dict[str, str]:
    """The lists a period's figures count, each narrowed to the period `key`."""
    return {
        "calls": _url(CALLS, when=key),
        "in_progress": _url(CALLS, when=key, status__exact=Call.Status.IN_PROGRESS),
        "completed": _url(CALLS, when=key, final_status__exact=Call.FinalStatus.COMPLETED),
        **{
            f"recordings_{status}": _url(RECORDINGS, when=key, status__exact=status)
            for status in RecordingStatus.values
        },
        "failed_events": _url(EVENTS, when=key, state__in=",".join(FAILED_STATES)),
        **{
            f"problem_{code}": _url(CALLS, when=key, problem=code)
            for code in CallProblem.Code.values
        },
    }


def hour_link(hour: datetime) -> str:
    """The calls received in the hour that starts at `hour`."""
    return _url(CALLS, since=hour.isoformat(), until=(hour + timedelta(hours=1)).isoformat())


def _url(name: str, **params) -> str:
    return f"{reverse(name)}?{urlencode(params)}"


# -- The charts -------------------------------------------------------------------------


def _calls_per_hour_chart(calls_per_hour: list[tuple[datetime, int]]):
    """The last 24 hours, one bar per hour in the current time zone, each a filtered list."""
    bars = [
        Bar(hour.strftime("%H:00"), count, hour_link(hour), f"{count} call(s) from {hour:%H:00 %Z}")
        for hour, count in calls_per_hour
    ]
    return bar_chart(bars, label_every=3)


_OUTCOME_BARS = [
    (RecordingStatus.COMPLETED, "completed", COLOURS["info"]),
    (RecordingStatus.FAILED, "failed", COLOURS["error"]),
    (RecordingStatus.STARTED, "started, not completed", COLOURS["warning"]),
]


def _recording_outcomes_chart(counts: Counts, links: dict[str, dict[str, str]]):
    bars = []
    for key, title, _ in PERIODS:
        for status, label, colour in _OUTCOME_BARS:
            count = counts.periods[key].recordings[status]
            bars.append(
                Bar(
                    f"{title.replace('Last ', '')}: {label}",
                    count,
                    links[key][f"recordings_{status}"],
                    f"{title}: {count} recording(s) {label}",
                    colour,
                )
            )
    return row_chart(bars)
