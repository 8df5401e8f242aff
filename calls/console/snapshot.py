"""The dashboard's figures, counted once for every reader and kept in one row.

Counting a week of calls takes about a second at a million calls (bench-scale), and the
front page must answer in 300 ms: so beat counts every
`MINIVOICE_DASHBOARD_REFRESH_SECONDS` (`calls.tasks.refresh_dashboard`) and the page reads
the row. Where no beat runs (`make run`, in-process tasks) or it has stopped, a page that
finds the row missing or older than `MAX_AGE` counts by itself and keeps the result for
the next: either way the figures shown are at most a minute old, with their time.

The counts are `dashboard_counts`' own, stored as JSON; a row that no longer reads as
today's `Counts` (written by an older release) is counted anew, never shown half-read.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from calls.console.dashboard import PERIODS, Counts, PeriodCounts, dashboard_counts
from calls.models import DASHBOARD_KEY, DashboardSnapshot
from calls.recordings_port import RecordingStatus

# The promise: the figures on the page are at most a minute old.
MAX_AGE = timedelta(minutes=1)


@dataclass(frozen=True)
class Snapshot:
    counts: Counts
    taken_at: datetime  # the moment the counts are for
    counted_here: bool  # no fresh row was kept: this caller counted


def dashboard_refresh(*, now: datetime | None = None) -> Snapshot:
    """Count the dashboard's figures now and keep them (beat, or a page finding none)."""
    now = now or timezone.now()
    started = time.perf_counter()
    counts = dashboard_counts(now=now)
    DashboardSnapshot.keep(
        counts=counts_to_json(counts),
        taken_at=now,
        count_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return Snapshot(counts, now, counted_here=True)


def dashboard_snapshot(*, now: datetime | None = None) -> Snapshot:
    """The kept figures if at most `MAX_AGE` old, else counted now (and kept)."""
    now = now or timezone.now()
    row = DashboardSnapshot.objects.filter(key=DASHBOARD_KEY).first()
    # Either way round: a row from a clock far ahead must not be trusted for ever.
    if row is not None and abs(now - row.taken_at) <= MAX_AGE:
        try:
            return Snapshot(counts_from_json(row.counts), row.taken_at, counted_here=False)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # kept by an older release, in another shape: count anew
    return dashboard_refresh(now=now)


def counts_to_json(counts: Counts) -> dict:
    return {
        "periods": {key: asdict(period) for key, period in counts.periods.items()},
        "calls_per_hour": [[hour.isoformat(), count] for hour, count in counts.calls_per_hour],
    }


def counts_from_json(data: dict) -> Counts:
    """`Counts` as `dashboard_counts` made them. jsonb keeps no key order, so the orders
    the figures rely on (recording statuses, problem codes) are made again here."""
    periods = {}
    for key, _, _ in PERIODS:
        period = dict(data["periods"][key])
        recordings = period["recordings"]
        if set(recordings) != set(RecordingStatus.values):
            raise ValueError("kept before the recording statuses changed")
        period["recordings"] = {status: recordings[status] for status in RecordingStatus.values}
        period["problems"] = dict(sorted(period["problems"].items()))
        periods[key] = PeriodCounts(**period)
    hours = [
        (timezone.localtime(datetime.fromisoformat(hour)), count)
        for hour, count in data["calls_per_hour"]
    ]
    return Counts(periods=periods, calls_per_hour=hours)
