"""The dashboard on the admin index: the last 24 hours and 7 days, each figure a link to
the list it counts, in a fixed number of queries. How its counts are kept and read:
test_dashboard_snapshot.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calls.console.dashboard import PeriodCounts, period_figures, period_links, problem_figures
from calls.models import Call, DashboardSnapshot, WebhookEvent
from calls.tests.console_data import logged_in, send_call, support_member
from recordings.models import Recording


@pytest.fixture
def week(db, post_answer, post_webhook) -> None:
    """Today: a call whose recording failed, one never completed, one completed, one in
    progress. Three days ago: a completed one. A month ago: one that must not count."""
    send_call(post_answer, post_webhook, call_id="call_failed", recording="failed")
    send_call(post_answer, post_webhook, call_id="call_unfinished")
    send_call(post_answer, post_webhook, call_id="call_fine", recording="completed")
    send_call(post_answer, post_webhook, call_id="call_old", recording="completed")
    send_call(post_answer, post_webhook, call_id="call_ancient", recording="failed")
    Call.objects.create(minivoice_id="call_live", status=Call.Status.IN_PROGRESS)
    for call_id, days in [("call_old", 3), ("call_ancient", 30)]:
        moment = timezone.now() - timedelta(days=days)
        Call.objects.filter(minivoice_id=call_id).update(created_at=moment)
        Recording.objects.filter(call__minivoice_id=call_id).update(created_at=moment)
        WebhookEvent.objects.filter(call_minivoice_id=call_id).update(received_at=moment)
    failed = WebhookEvent.objects.filter(call_minivoice_id="call_failed").first()
    WebhookEvent.objects.filter(pk=failed.pk).update(state=WebhookEvent.State.GAVE_UP)


def _figures(html: str, period: str) -> dict[str, tuple[str, str]]:
    """{label: (value, link)} of one period's table."""
    table = html[html.index(f'id="mv-period-{period}"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(
        r'<th scope="row"><a href="([^"]*)">([^<]*)</a></th><td[^>]*><a href="[^"]*">([^<]*)</a>',
        table,
    )
    return {label: (value, link.replace("&amp;", "&")) for link, label, value in rows}


def test_the_index_shows_the_last_24_hours_and_7_days(admin_client, week):
    html = admin_client.get(reverse("admin:index")).content.decode()

    day, seven = _figures(html, "24h"), _figures(html, "7d")
    assert day["Calls"][0] == "4" and seven["Calls"][0] == "5"
    assert day["In progress now"][0] == "1"
    assert day["Completed"][0] == "3" and seven["Completed"][0] == "4"
    assert day["Recording success rate (1 of 2 finished)"][0] == "50 %"
    assert seven["Recording success rate (2 of 3 finished)"][0] == "67 %"
    assert day["Recordings failed"][0] == "1"
    assert day["Recordings started, not completed"][0] == "1"
    assert day["Events failed processing (failed or gave up)"][0] == "1"
    assert day["Recording never completed"][0] == "1"
    assert day["Recording failed"][0] == "1"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Calls", {"call_failed", "call_unfinished", "call_fine", "call_live"}),
        ("In progress now", {"call_live"}),
        ("Recording never completed", {"call_unfinished"}),
        ("Recording failed", {"call_failed"}),
        ("Recordings failed", {"rec_call_failed"}),
        ("Recordings started, not completed", {"rec_call_unfinished"}),
    ],
)
def test_every_figure_links_to_the_list_it_counts(admin_client, week, label, expected):
    html = admin_client.get(reverse("admin:index")).content.decode()
    value, link = _figures(html, "24h")[label]

    response = admin_client.get(link)

    assert response.status_code == 200
    listed = {str(row) for row in response.context["cl"].result_list}
    assert listed == expected
    assert int(value) == len(expected)


def test_the_failed_events_figure_links_to_failed_and_given_up_events(admin_client, week):
    html = admin_client.get(reverse("admin:index")).content.decode()
    _, link = _figures(html, "24h")["Events failed processing (failed or gave up)"]

    rows = admin_client.get(link).context["cl"].result_list
    assert [event.state for event in rows] == ["gave_up"]


def test_the_charts_are_inline_svg_whose_bars_link_to_their_lists(admin_client, week):
    html = admin_client.get(reverse("admin:index")).content.decode()

    assert html.count('<svg class="mv-bars"') == 2
    assert "<script" not in html[html.index('id="mv-dashboard"') : html.index("</svg>")]
    hour = timezone.localtime().replace(minute=0, second=0, microsecond=0)
    bars = re.findall(r'<a href="([^"]*since=[^"]*)"><title>(\d+) call', html)
    assert len(bars) == 24
    link, count = bars[-1]  # this hour
    assert int(count) == 4
    listed = admin_client.get(link.replace("&amp;", "&")).context["cl"].result_list
    assert len(listed) == 4
    assert hour.isoformat()[:13] in link.replace("%3A", ":")


def test_the_dashboard_runs_a_fixed_number_of_queries_counting_or_reading_its_counts(
    admin_client, week, post_answer, post_webhook
):
    def queries(*, counting: bool) -> list[str]:
        if counting:  # no kept counts: the page counts by itself
            DashboardSnapshot.objects.all().delete()
        with CaptureQueriesContext(connection) as captured:
            admin_client.get(reverse("admin:index"))
        return [query["sql"] for query in captured]

    counting, reading = len(queries(counting=True)), queries(counting=False)
    for index in range(5):
        send_call(post_answer, post_webhook, call_id=f"call_more_{index}", recording="failed")

    assert len(queries(counting=True)) == counting
    assert len(queries(counting=False)) == len(reading)
    # Reading the kept counts touches neither the calls nor the events table.
    assert not [sql for sql in reading if '"calls_call"' in sql or "calls_webhookevent" in sql]


def test_a_support_member_sees_the_dashboard_and_staff_without_access_do_not(week):
    assert 'id="mv-dashboard"' in logged_in(support_member()).get("/admin/").content.decode()
    newcomer = get_user_model().objects.create_user("newcomer", password="x", is_staff=True)
    html = logged_in(newcomer).get("/admin/").content.decode()
    assert 'id="mv-dashboard"' not in html


def _quiet_period(**changes) -> PeriodCounts:
    counts = {
        "calls": 0,
        "in_progress": 0,
        "completed": 0,
        "recordings": dict.fromkeys(Recording.Status.values, 0),
        "failed_events": 0,
        "problems": {},
    }
    return PeriodCounts(**{**counts, **changes})


def test_a_period_with_no_finished_recording_shows_no_success_rate_and_nothing_in_red():
    figures = period_figures(_quiet_period(), period_links("24h"))

    rate = figures[3]
    assert (rate.label, rate.value) == ("Recording success rate (0 of 0 finished)", "—")
    assert not any(figure.bad for figure in figures)


def test_only_problems_seen_and_still_known_are_shown():
    counts = _quiet_period(problems={"recording_failed": 2, "call_stuck": 0, "retired_code": 5})

    figures = problem_figures(counts, period_links("7d"))

    assert [(figure.label, figure.value) for figure in figures] == [("Recording failed", "2")]
    assert figures[0].url.endswith("?when=7d&problem=recording_failed")
