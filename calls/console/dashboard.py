"""The admin index's dashboard: the last 24 hours and 7 days at a glance.

A handful of aggregate queries over indexed date ranges (created_at, received_at), each
figure a link to the list it counts, whatever the size of the tables.
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
from recordings.models import Recording

PERIODS = [("24h", "Last 24 hours", timedelta(hours=24)), ("7d", "Last 7 days", timedelta(days=7))]
FAILED_STATES = [WebhookEvent.State.FAILED, WebhookEvent.State.GAVE_UP]


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


def _url(name: str, **params) -> str:
    return f"{reverse(name)}?{urlencode(params)}"


def dashboard(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    week = now - timedelta(days=7)
    windows = {key: now - length for key, _, length in PERIODS}

    def per_period(prefix: str, date_field: str, **conditions: Q) -> dict:
        return {
            f"{prefix}_{name}_{key}": Count(
                "pk", filter=Q(**{f"{date_field}__gte": start}) & condition
            )
            for key, start in windows.items()
            for name, condition in conditions.items()
        }

    calls = Call.objects.filter(created_at__gte=week).aggregate(
        **per_period(
            "calls",
            "created_at",
            all=Q(),
            live=Q(status=Call.Status.IN_PROGRESS),
            completed=Q(final_status=Call.FinalStatus.COMPLETED),
        )
    )
    recordings = Recording.objects.filter(created_at__gte=week).aggregate(
        **per_period(
            "rec",
            "created_at",
            all=Q(),
            completed=Q(status=Recording.Status.COMPLETED),
            failed=Q(status=Recording.Status.FAILED),
            started=Q(status=Recording.Status.STARTED),
        )
    )
    events = WebhookEvent.objects.filter(received_at__gte=week).aggregate(
        **per_period("events", "received_at", failed=Q(state__in=FAILED_STATES))
    )
    problems = (
        CallProblem.objects.filter(call__created_at__gte=week)
        .values("code")
        .annotate(
            **{
                # One row per call and code (a unique constraint): no DISTINCT needed.
                key: Count("call", filter=Q(call__created_at__gte=start))
                for key, start in windows.items()
            }
        )
        .order_by("code")
    )
    periods = []
    for key, title, _ in PERIODS:
        rec_done = recordings[f"rec_completed_{key}"]
        rec_failed = recordings[f"rec_failed_{key}"]
        finished = rec_done + rec_failed
        rate = f"{100 * rec_done / finished:.0f} %" if finished else "—"
        calls_url = "admin:calls_call_changelist"
        recordings_url = "admin:recordings_recording_changelist"
        figures = [
            Figure("Calls", str(calls[f"calls_all_{key}"]), _url(calls_url, when=key)),
            Figure(
                "In progress now",
                str(calls[f"calls_live_{key}"]),
                _url(calls_url, when=key, status__exact=Call.Status.IN_PROGRESS),
            ),
            Figure(
                "Completed",
                str(calls[f"calls_completed_{key}"]),
                _url(calls_url, when=key, final_status__exact=Call.FinalStatus.COMPLETED),
            ),
            Figure(
                f"Recording success rate ({rec_done} of {finished} finished)",
                rate,
                _url(recordings_url, when=key, status__exact=Recording.Status.COMPLETED),
            ),
            Figure(
                "Recordings failed",
                str(rec_failed),
                _url(recordings_url, when=key, status__exact=Recording.Status.FAILED),
                bad=rec_failed > 0,
            ),
            Figure(
                "Recordings started, not completed",
                str(recordings[f"rec_started_{key}"]),
                _url(recordings_url, when=key, status__exact=Recording.Status.STARTED),
            ),
            Figure(
                "Events failed processing (failed or gave up)",
                str(events[f"events_failed_{key}"]),
                _url(
                    "admin:calls_webhookevent_changelist",
                    when=key,
                    state__in=",".join(FAILED_STATES),
                ),
                bad=events[f"events_failed_{key}"] > 0,
            ),
        ]
        by_code = [
            Figure(
                CallProblem.Code(row["code"]).label,
                str(row[key]),
                _url(calls_url, when=key, problem=row["code"]),
                bad=True,
            )
            for row in problems
            if row[key] and row["code"] in CallProblem.Code.values
        ]
        periods.append(Period(key, title, figures, by_code))
    return {
        "periods": periods,
        "calls_per_hour": _calls_per_hour(now),
        "recording_outcomes": _recording_outcomes(recordings),
    }


def _calls_per_hour(now: datetime):
    """The last 24 hours, one bar per hour in the current time zone, each a filtered list."""
    tz = timezone.get_current_timezone()
    last_hour = timezone.localtime(now, tz).replace(minute=0, second=0, microsecond=0)
    first_hour = last_hour - timedelta(hours=23)
    counts = {
        row["hour"]: row["count"]
        for row in Call.objects.filter(created_at__gte=first_hour)
        .annotate(hour=TruncHour("created_at", tzinfo=tz))
        .values("hour")
        .annotate(count=Count("pk"))
        .values("hour", "count")
    }
    counts = {timezone.localtime(hour, tz): count for hour, count in counts.items()}
    bars = []
    for index in range(24):
        hour = first_hour + timedelta(hours=index)
        count = counts.get(hour, 0)
        url = _url(
            "admin:calls_call_changelist",
            since=hour.isoformat(),
            until=(hour + timedelta(hours=1)).isoformat(),
        )
        bars.append(
            Bar(hour.strftime("%H:00"), count, url, f"{count} call(s) from {hour:%H:00 %Z}")
        )
    return bar_chart(bars, label_every=3)


def _recording_outcomes(recordings: dict):
    url = "admin:recordings_recording_changelist"
    bars = []
    for key, title, _ in PERIODS:
        for status, label, colour in [
            (Recording.Status.COMPLETED, "completed", COLOURS["info"]),
            (Recording.Status.FAILED, "failed", COLOURS["error"]),
            (Recording.Status.STARTED, "started, not completed", COLOURS["warning"]),
        ]:
            count = recordings[f"rec_{status}_{key}"]
            bars.append(
                Bar(
                    f"{title.replace('Last ', '')}: {label}",
                    count,
                    _url(url, when=key, status__exact=status),
                    f"{title}: {count} recording(s) {label}",
                    colour,
                )
            )
    return row_chart(bars)
