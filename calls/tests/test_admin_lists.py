"""Support's lists: the columns that fit, filters for what support asks, search by the ids
support is given, links back to the call, and counts that stay cheap on big tables."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calls.console.base import CappedCountPaginator
from calls.models import AnswerExchange, Call, WebhookEvent
from calls.tests.console_data import send_call
from calls.tests.flow_data import ask, collect_url, main_line_published
from conftest import minivoice_event
from recordings.models import Recording


@pytest.fixture
def calls(db, post_answer, post_webhook) -> dict[str, Call]:
    made = {
        "call_unfinished": send_call(post_answer, post_webhook, call_id="call_unfinished"),
        "call_failed": send_call(
            post_answer,
            post_webhook,
            call_id="call_failed",
            recording="failed",
            from_number="+441234500000",
            to_number="+449876500000",
        ),
        "call_fine": send_call(
            post_answer, post_webhook, call_id="call_fine", recording="completed"
        ),
    }
    # Received long ago, to tell the date filters apart.
    Call.objects.filter(minivoice_id="call_fine").update(
        created_at=timezone.now() - timedelta(days=30)
    )
    return made


def listed(client, name: str, params: dict | None = None) -> set[str]:
    response = client.get(reverse(name), params or {})
    assert response.status_code == 200
    return {str(row) for row in response.context["cl"].result_list}


CALLS = "admin:calls_call_changelist"


def test_the_call_list_shows_what_support_reads_in_one_row(admin_client, calls):
    html = admin_client.get(reverse(CALLS)).content.decode()
    row = html[html.index(">call_failed</a>") :]
    row = row[: row.index("</tr>")]

    assert '<td class="field-people">+441234500000 → +449876500000</td>' in row
    assert "Ended: completed" in row
    assert '<td class="field-duration">14 s</td>' in row
    assert '<span class="mv-rec-failed">Failed</span>' in row
    assert 'title="The recording failed (rec_call_failed at +5.0 s: storage unavailable).">' in row
    assert "Recording failed</span>" in row
    assert "2026-05-29 12:00:00 UTC" in row  # when, to the second


def test_the_call_list_runs_the_same_queries_for_3_calls_as_for_15(
    admin_client, calls, post_answer, post_webhook
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse(CALLS)).status_code == 200
        return len(captured)

    few = queries()
    for index in range(12):
        send_call(post_answer, post_webhook, call_id=f"call_more_{index}", recording="failed")
    assert queries() == few


def busy_call(post_answer, post_webhook) -> Call:
    """A call with 100 recordings: 98 completed, 2 failed."""
    call = send_call(post_answer, post_webhook, call_id="call_busy", recording="completed")
    Recording.objects.bulk_create(
        Recording(
            call=call,
            minivoice_id=f"rec_busy_{index}",
            status=Recording.Status.FAILED if index < 2 else Recording.Status.COMPLETED,
            duration_seconds=None if index < 2 else 70,
        )
        for index in range(99)
    )
    return call


@pytest.fixture
def busy(calls, post_answer, post_webhook) -> Call:
    return busy_call(post_answer, post_webhook)


def test_a_call_with_100_recordings_reads_as_a_count_per_outcome_each_a_link(
    admin_client, calls, post_answer, post_webhook, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as before:
        admin_client.get(reverse(CALLS))
    without_it = len(before)  # now: the next request empties the connection's log
    busy_call(post_answer, post_webhook)

    with django_assert_max_num_queries(without_it):
        response = admin_client.get(reverse(CALLS))

    html = response.content.decode()
    row = html[html.index(">call_busy</a>") :]
    row = row[: row.index("</tr>")]
    recordings = reverse("admin:recordings_recording_changelist")
    assert (
        f'<a href="{recordings}?call_minivoice_id=call_busy">100 recordings</a>: '
        f'<a class="mv-rec-completed" href="{recordings}?call_minivoice_id=call_busy'
        '&amp;status__exact=completed">98 completed</a>, '
        f'<a class="mv-rec-failed" href="{recordings}?call_minivoice_id=call_busy'
        '&amp;status__exact=failed">2 failed</a>'
    ) in row
    assert "70 s" not in row
    # Counted in the database: one recording per outcome reaches Python, not a hundred.
    listed = {call.minivoice_id: call for call in response.context["cl"].result_list}
    assert len(listed["call_busy"].outcomes) == 2
    assert '<span class="mv-rec-completed">Completed (11 s)</span>' in html  # call_fine


@pytest.mark.parametrize(
    ("status", "expected"),
    [("", 100), ("completed", 98), ("failed", 2), ("started", 0)],
)
def test_the_recordings_list_narrows_to_one_call_and_says_so(admin_client, busy, status, expected):
    params = {"call_minivoice_id": "call_busy"}
    if status:
        params["status__exact"] = status
    response = admin_client.get(reverse("admin:recordings_recording_changelist"), params)

    assert response.status_code == 200
    assert response.context["cl"].result_count == expected
    assert {row.call_id for row in response.context["cl"].result_list} <= {busy.pk}
    filters = response.content.decode().split('id="changelist-filter"')[1]
    assert "call_busy" in filters  # the narrowing shows, and can be undone


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"has_problems": "yes"}, {"call_unfinished", "call_failed"}),
        ({"has_problems": "no"}, {"call_fine"}),
        ({"problem": "recording_failed"}, {"call_failed"}),
        ({"problem": "recording_not_completed"}, {"call_unfinished"}),
        ({"problem": "not_a_code"}, {"call_unfinished", "call_failed", "call_fine"}),
        ({"when": "today"}, {"call_unfinished", "call_failed"}),
        ({"when": "7d"}, {"call_unfinished", "call_failed"}),
        ({"when": "24h"}, {"call_unfinished", "call_failed"}),
        ({"since": (timezone.now() - timedelta(days=31)).date().isoformat()}, None),
        ({"until": (timezone.now() - timedelta(days=29)).date().isoformat()}, {"call_fine"}),
        ({"status__exact": "ended", "direction": "inbound"}, None),
    ],
)
def test_call_filters_narrow_the_list(admin_client, calls, params, expected):
    everything = {"call_unfinished", "call_failed", "call_fine"}
    assert listed(admin_client, CALLS, params) == (everything if expected is None else expected)


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"until": "2026-02-30"},
        {"since": "9" * 400},
        {"since": "2026-05-29T25:99"},
        {"since": "\x00"},
    ],
)
def test_a_date_that_is_not_a_date_is_ignored_with_a_message(admin_client, calls, params):
    response = admin_client.get(reverse(CALLS), params)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 3
    assert "Ignored " in response.content.decode()
    assert "give a date like 2026-05-29" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("call_failed", {"call_failed"}),
        ("rec_call_unfinished", {"call_unfinished"}),
        ("+44123450", {"call_failed"}),  # the start of a number
        ("44123450", {"call_failed"}),  # typed without its +
        ("+449876500000", {"call_failed"}),  # the number called
        ("+1555", {"call_unfinished", "call_fine"}),
        ("call_", set()),  # ids match whole
        ("' OR 1=1 --", set()),
        ("x" * 5000, set()),
    ],
)
def test_search_finds_calls_by_id_recording_id_or_phone_number(
    admin_client, calls, query, expected
):
    assert listed(admin_client, CALLS, {"q": query}) == expected


def test_every_list_links_back_to_the_call(admin_client, calls):
    call = calls["call_failed"]
    page = reverse("admin:calls_call_change", args=[call.pk])
    by_id = reverse("admin:calls_call_by_id") + "?id=call_failed"
    recordings = admin_client.get(reverse("admin:recordings_recording_changelist")).content
    exchanges = admin_client.get(reverse("admin:calls_answerexchange_changelist")).content
    events = admin_client.get(reverse("admin:calls_webhookevent_changelist")).content
    problems = admin_client.get(reverse("admin:calls_callproblem_changelist")).content

    assert f'<a href="{page}">call_failed</a>'.encode() in recordings
    assert f'<a href="{page}">call_failed</a>'.encode() in problems
    assert f'<a href="{by_id}">call_failed</a>'.encode() in exchanges
    assert f'<a href="{by_id}">call_failed</a>'.encode() in events
    assert admin_client.get(by_id)["Location"] == page


def test_healthy_exchanges_read_as_answered_with_no_failure_mark(admin_client, calls):
    html = admin_client.get(reverse("admin:calls_answerexchange_changelist")).content.decode()

    assert html.count('<td class="field-outcome">Answered</td>') == 3
    assert "icon-no.svg" not in html and "icon-yes.svg" not in html
    assert "start_recording → say → stop_recording" in html
    assert AnswerExchange.objects.count() == 3


@pytest.mark.parametrize(
    ("choice", "expected"), [("unusable", {"msg_long_id"}), ("missing", {"msg_no_id"})]
)
def test_event_list_filters_events_set_aside_for_their_call_id(
    admin_client, calls, post_webhook, choice, expected
):
    no_id = minivoice_event("call.answered", call_id="")
    long_id = minivoice_event("call.answered", call_id="x" * 300)
    assert post_webhook(no_id, webhook_id="msg_no_id").status_code == 202
    assert post_webhook(long_id, webhook_id="msg_long_id").status_code == 202
    # Processing sets both aside and says why, in words the filter tells apart.
    assert WebhookEvent.objects.get(webhook_id="msg_no_id").error.startswith(
        "The event names no call id"
    )
    long_id = WebhookEvent.objects.get(webhook_id="msg_long_id")
    assert (long_id.state, long_id.call_minivoice_id) == ("ignored", "")
    assert long_id.error.endswith("The event was applied to no call.")

    response = admin_client.get(
        reverse("admin:calls_webhookevent_changelist"), {"call_id_problem": choice}
    )

    assert {event.webhook_id for event in response.context["cl"].result_list} == expected


def test_event_list_shows_failed_and_given_up_events_together(admin_client, calls):
    first, second, *_ = WebhookEvent.objects.order_by("pk")
    WebhookEvent.objects.filter(pk=first.pk).update(state="failed")
    WebhookEvent.objects.filter(pk=second.pk).update(state="gave_up")

    response = admin_client.get(
        reverse("admin:calls_webhookevent_changelist"), {"state__in": "failed,gave_up"}
    )

    assert {event.pk for event in response.context["cl"].result_list} == {first.pk, second.pk}


def test_the_list_count_stops_at_the_cap_instead_of_counting_every_row(admin_client, db):
    WebhookEvent.objects.bulk_create(
        WebhookEvent(webhook_id=f"msg_{index}", call_minivoice_id="call_big", raw_body="{}")
        for index in range(60)
    )
    original = CappedCountPaginator.CAP
    CappedCountPaginator.CAP = 25
    try:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(reverse("admin:calls_webhookevent_changelist"))
    finally:
        CappedCountPaginator.CAP = original

    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 26" in sql for sql in counts), counts
    assert "more than 25 webhook events" in response.content.decode()


def test_the_capped_count_does_not_sort_the_rows_it_counts(admin_client, calls):
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(reverse(CALLS), {"has_problems": "yes"})

    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
    assert counts and not any("ORDER BY" in sql.upper() for sql in counts), counts
    assert response.context["cl"].result_count == 2


@pytest.mark.parametrize(
    "name",
    [
        "admin:calls_call_changelist",
        "admin:calls_answerexchange_changelist",
        "admin:calls_webhookevent_changelist",
        "admin:calls_callproblem_changelist",
        "admin:recordings_recording_changelist",
    ],
)
@pytest.mark.parametrize(
    "params",
    [
        {"q": "call_\x00"},
        "q=%ED%A0%80",  # a lone surrogate, UTF-8 encoded
        "q=%FF%FE",  # not UTF-8
        {"q": "x" * 10_000},
        {"call_minivoice_id": "\x00"},
        {"status__exact": "\x00"},
        {"state__in": "failed,\x00"},
        {"when": "\x00"},
        {"since": "\x00", "until": "2026-13-45"},
        {"o": "\x00"},
        {"flow": "\x00", "flow_step": "\x00"},
        {"flow": "x" * 10_000, "flow_step": "y" * 10_000},
        {"p": "-1"},
        {"p": "99999"},
    ],
    ids=lambda value: str(value)[:20],
)
def test_hostile_list_parameters_never_crash(admin_client, calls, name, params):
    admin_client.raise_request_exception = False
    if isinstance(params, str):
        response = admin_client.get(f"{reverse(name)}?{params}")
    else:
        response = admin_client.get(reverse(name), params)
    # 200, or the admin's own redirect to ?e=1 for a lookup it cannot use.
    assert response.status_code in (200, 302), response.status_code
    assert Call.objects.count() == 3


# -- Flows: the flow's step a call reached, and filters by flow and by last step -----------


@pytest.fixture
def flow_calls(db, client) -> None:
    """Three calls through the consent IVR (consented, declined, silent twice) and one
    through the default flow."""
    main_line_published()
    for call_id, keys in (("call_yes", ["1"]), ("call_no", ["2"]), ("call_silent", [None, None])):
        response = ask(client, call_id=call_id)
        for digits in keys:
            response = ask(client, call_id=call_id, url=collect_url(response), digits=digits)
    ask(client, call_id="call_default", to="+15557777")


def filters_html(response) -> str:
    return response.content.decode().split('id="changelist-filter"')[1]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"flow": "Main line"}, {"call_yes", "call_no", "call_silent"}),
        ({"flow": "default"}, {"call_default"}),
        ({"flow": "Main line", "flow_step": "no_recording"}, {"call_no"}),
        ({"flow": "Main line", "flow_step": "goodbye"}, {"call_silent"}),
        ({"flow": "default", "flow_step": "goodbye"}, set()),
        ({"flow": "Main line", "flow_step": "no_such_step"}, set()),
        ({"flow": "fallback"}, set()),
        ({"flow": "A flow deleted since"}, set()),
    ],
)
def test_the_call_list_filters_by_flow_and_by_last_step(admin_client, flow_calls, params, expected):
    assert listed(admin_client, CALLS, params) == expected


def test_the_last_steps_to_choose_from_are_the_chosen_flows(admin_client, flow_calls):
    without_flow = filters_html(admin_client.get(reverse(CALLS)))
    with_flow = filters_html(admin_client.get(reverse(CALLS), {"flow": "Main line"}))

    assert "By last step" not in without_flow
    steps = with_flow[with_flow.index("By last step") :]
    for step in ("greeting", "greeting_again", "record", "no_recording", "goodbye"):
        assert f"?flow=Main+line&amp;flow_step={step}" in steps
    assert "flow_step=start" not in steps  # the default flow's step


def test_choosing_another_flow_drops_the_step_chosen_in_this_one(admin_client, flow_calls):
    response = admin_client.get(reverse(CALLS), {"flow": "Main line", "flow_step": "record"})

    flows = filters_html(response)
    flows = flows[flows.index("By flow") : flows.index("By last step")]
    assert '<a href="?flow=default">default</a>' in flows
    assert "flow_step" not in flows


def test_a_last_step_without_a_flow_is_ignored_with_a_message(admin_client, flow_calls):
    response = admin_client.get(reverse(CALLS), {"flow_step": "record"})

    assert len(response.context["cl"].result_list) == 4
    assert "Ignored the last step: choose a flow first." in response.content.decode()


def test_the_call_list_shows_the_flows_step_over_the_last_thing_heard(admin_client, flow_calls):
    html = admin_client.get(reverse(CALLS)).content.decode()
    row = html[html.index(">call_no</a>") :]
    row = row[: row.index("</tr>")]

    assert (
        '<span class="mv-flow-step">Main line v1, step &#x27;no_recording&#x27; (pressed 2)'
        '</span><br><span class="mv-step-detail">say, transfer</span>'
    ) in row


def test_filtering_by_flow_and_step_reads_the_index_that_starts_with_them(admin_client, flow_calls):
    response = admin_client.get(reverse(CALLS), {"flow": "Main line", "flow_step": "record"})
    queryset = response.context["cl"].queryset

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A handful of rows reads faster whole: ask what the planner does at scale.
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()

    assert "calls_call_flow_step_idx" in plan, plan
