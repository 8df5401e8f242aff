"""The dashboard's counts, kept by beat (calls.console.snapshot): the front page reads
them, says how old they are, and counts by itself when they are missing, over a minute
old or in a shape it no longer reads. What is kept equals a direct count."""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calls.console.dashboard import PERIODS, Counts, PeriodCounts, dashboard_counts
from calls.console.snapshot import MAX_AGE, counts_from_json, counts_to_json
from calls.dispatch import run_here
from calls.models import DASHBOARD_KEY, Call, CallProblem, DashboardSnapshot, WebhookEvent
from calls.tests.console_data import send_call
from minivoice_site.celery import app as celery_app
from recordings.models import Recording

REFRESH_TASK = "calls.tasks.refresh_dashboard"


# -- A random mix, and a count of it in Python --------------------------------------------

# Ages well clear of the windows' edges (24 hours, 7 days), so the moment between making
# the mix and counting it moves nothing across one.
AGES = [
    (timedelta(0), timedelta(hours=23, minutes=50)),
    (timedelta(hours=24, minutes=10), timedelta(days=6, hours=23)),
    (timedelta(days=7, hours=1), timedelta(days=40)),
]


def _age(rng: random.Random) -> timedelta:
    low, high = rng.choice(AGES)
    return low + (high - low) * rng.random()


def make_mix(rng: random.Random, *, calls: int) -> None:
    """Calls in every status and age, some with problems, recordings in every state
    (their own ages), and events in every state received at their own times."""
    now = timezone.now()
    for n in range(calls):
        status = rng.choice(Call.Status.values)
        final = rng.choice(["", *Call.FinalStatus.values]) if status == Call.Status.ENDED else ""
        call = Call.objects.create(
            minivoice_id=f"call_mix_{n}",
            status=status,
            final_status=final,
            created_at=now - _age(rng),
        )
        for code in rng.sample(CallProblem.Code.values, rng.choice([0, 0, 1, 2, 3])):
            CallProblem.objects.create(
                call=call, code=code, severity=CallProblem.Severity.ERROR, message="mix"
            )
        for k in range(rng.choice([0, 1, 1, 2])):
            Recording.objects.create(
                minivoice_id=f"rec_mix_{n}_{k}",
                call=call,
                status=rng.choice(Recording.Status.values),
                created_at=now - _age(rng),
            )
        for k in range(rng.choice([0, 1, 3])):
            WebhookEvent.objects.create(
                webhook_id=f"msg_mix_{n}_{k}",
                event_type="call.answered",
                call_minivoice_id=call.minivoice_id,
                raw_body="{}",
                state=rng.choice(WebhookEvent.State.values),
                received_at=now - _age(rng),
            )


def counted_in_python(now: datetime) -> Counts:
    """Every figure, from every row read one by one: the direct count the kept figures
    must equal."""
    calls = list(Call.objects.values_list("created_at", "status", "final_status"))
    recordings = list(Recording.objects.values_list("created_at", "status"))
    events = list(WebhookEvent.objects.values_list("received_at", "state"))
    problems = list(CallProblem.objects.values_list("call__created_at", "code"))
    week = now - timedelta(days=7)
    codes = sorted({code for created, code in problems if created >= week})
    periods = {}
    for key, _, length in PERIODS:
        start = now - length
        recent = [(status, final) for created, status, final in calls if created >= start]
        by_status = Counter(status for created, status in recordings if created >= start)
        problem_count = Counter(code for created, code in problems if created >= start)
        periods[key] = PeriodCounts(
            calls=len(recent),
            in_progress=sum(status == Call.Status.IN_PROGRESS for status, _ in recent),
            completed=sum(final == Call.FinalStatus.COMPLETED for _, final in recent),
            recordings={status: by_status[status] for status in Recording.Status.values},
            failed_events=sum(
                received >= start and state in {"failed", "gave_up"} for received, state in events
            ),
            problems={code: problem_count[code] for code in codes},
        )
    this_hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    hours = [this_hour - timedelta(hours=back) for back in range(23, -1, -1)]
    per_hour = Counter(
        timezone.localtime(created).replace(minute=0, second=0, microsecond=0)
        for created, _, _ in calls
    )
    return Counts(periods=periods, calls_per_hour=[(hour, per_hour[hour]) for hour in hours])


def assert_same_counts(kept: Counts, direct: Counts) -> None:
    assert kept == direct
    for key in kept.periods:  # the orders the figures are drawn in, too
        assert list(kept.periods[key].problems) == list(direct.periods[key].problems)
        assert list(kept.periods[key].recordings) == list(direct.periods[key].recordings)


# Kolkata is UTC+05:30: its hours begin at half past UTC's, so the chart's hours are the
# time zone's own, not UTC's cut.
@pytest.mark.parametrize(
    ("seed", "time_zone"), [(1, "UTC"), (2, "Asia/Kolkata"), (3, "UTC"), (4, "Asia/Kolkata")]
)
def test_the_kept_figures_equal_a_direct_count_after_a_random_mix(
    db, post_answer, post_webhook, settings, seed, time_zone
):
    settings.TIME_ZONE = time_zone
    rng = random.Random(seed)
    # A few through the real doors (answer_url and signed webhooks, processed as usual).
    for n in range(3):
        outcome = rng.choice(["never_completed", "failed", "completed"])
        send_call(post_answer, post_webhook, call_id=f"call_real_{n}", recording=outcome)
    make_mix(rng, calls=120)

    run_here(REFRESH_TASK)  # what beat asks for

    row = DashboardSnapshot.objects.get(key=DASHBOARD_KEY)
    kept = counts_from_json(row.counts)
    assert_same_counts(kept, counted_in_python(row.taken_at))
    assert_same_counts(kept, dashboard_counts(now=row.taken_at))
    assert timezone.now() - row.taken_at < MAX_AGE
    assert sum(kept.periods["7d"].problems.values()) > 0  # the mix reached every figure
    assert kept.periods["7d"].failed_events > 0 and kept.periods["24h"].in_progress > 0


def test_counts_read_back_as_they_were_counted(db, post_answer, post_webhook):
    send_call(post_answer, post_webhook, call_id="call_failed", recording="failed")
    counts = dashboard_counts(now=timezone.now())

    assert counts_from_json(counts_to_json(counts)) == counts


# -- The page -----------------------------------------------------------------------------


def _keep(*, calls: int, age: timedelta) -> datetime:
    """Kept counts of `age`, all zero but `calls` in both periods."""
    taken_at = timezone.now() - age
    counts = dashboard_counts(now=taken_at)
    shown = Counts(
        periods={key: replace(period, calls=calls) for key, period in counts.periods.items()},
        calls_per_hour=counts.calls_per_hour,
    )
    DashboardSnapshot.keep(counts=counts_to_json(shown), taken_at=taken_at, count_ms=1.0)
    return taken_at


def _calls_figure(html: str) -> str:
    table = html[html.index('id="mv-period-24h"') :]
    return re.search(r'>Calls</a></th><td[^>]*><a href="[^"]*">([^<]*)</a>', table).group(1)


def _age_line(html: str) -> str:
    line = html[html.index('id="mv-dashboard-age"') :]
    return line[line.index(">") + 1 : line.index("</p>")]


@pytest.fixture
def two_calls(db, post_answer, post_webhook) -> None:
    send_call(post_answer, post_webhook, call_id="call_one", recording="completed")
    send_call(post_answer, post_webhook, call_id="call_two", recording="failed")


def test_the_page_shows_the_kept_figures_and_their_time_without_counting(admin_client, two_calls):
    taken_at = _keep(calls=12345, age=timedelta(seconds=20))

    with CaptureQueriesContext(connection) as captured:
        html = admin_client.get(reverse("admin:index")).content.decode()

    assert _calls_figure(html) == "12345"
    line = _age_line(html)
    assert line.startswith(f"Figures as of {timezone.localtime(taken_at):%H:%M:%S} UTC (2")
    assert re.search(r"\((2\d) s ago: never more than a minute old\)", line), line
    assert not [q for q in captured if '"calls_call"' in q["sql"]]


@pytest.mark.parametrize(
    "age", [MAX_AGE + timedelta(seconds=1), timedelta(hours=3), -timedelta(hours=1)]
)
def test_counts_over_a_minute_old_or_from_a_clock_far_ahead_are_counted_again(
    admin_client, two_calls, age
):
    _keep(calls=12345, age=age)

    html = admin_client.get(reverse("admin:index")).content.decode()

    assert _calls_figure(html) == "2"
    assert "(0 s ago, counted for this page" in _age_line(html)
    row = DashboardSnapshot.objects.get()
    assert abs(timezone.now() - row.taken_at) < timedelta(seconds=10)
    assert counts_from_json(row.counts).periods["24h"].calls == 2


def test_with_no_kept_counts_the_page_counts_and_keeps_them_for_the_next(admin_client, two_calls):
    first = admin_client.get(reverse("admin:index")).content.decode()
    kept = DashboardSnapshot.objects.get()
    second = admin_client.get(reverse("admin:index")).content.decode()

    assert _calls_figure(first) == _calls_figure(second) == "2"
    assert "counted for this page" in _age_line(first)
    assert "counted for this page" not in _age_line(second)
    assert DashboardSnapshot.objects.get().taken_at == kept.taken_at


def test_counts_kept_in_an_older_shape_are_counted_again_not_shown(admin_client, two_calls):
    DashboardSnapshot.keep(
        counts={"periods": {"24h": {"calls": 9}}}, taken_at=timezone.now(), count_ms=1.0
    )

    html = admin_client.get(reverse("admin:index")).content.decode()

    assert _calls_figure(html) == "2"
    assert "counted for this page" in _age_line(html)


# -- Beat ---------------------------------------------------------------------------------


def test_beat_asks_for_the_count_by_name_more_often_than_the_figures_grow_a_minute_old():
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-dashboard"]

    assert entry["task"] == REFRESH_TASK
    assert entry["schedule"] == settings.MINIVOICE_DASHBOARD_REFRESH_SECONDS == 30
    assert entry["schedule"] < MAX_AGE.total_seconds() - 5
    celery_app.loader.import_default_modules()
    assert REFRESH_TASK in celery_app.tasks


def test_the_task_beat_names_keeps_the_counts(db, post_answer, post_webhook):
    send_call(post_answer, post_webhook, call_id="call_one")

    run_here(REFRESH_TASK)

    row = DashboardSnapshot.objects.get()
    assert counts_from_json(row.counts).periods["24h"].calls == 1
    assert row.count_ms >= 0
