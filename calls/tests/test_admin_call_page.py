"""The call's admin page is its timeline: problems in words, the story, the lane chart and
every entry in time order; plus its JSON export and its live refresh.

Calls come in through the real doors (signed answer_url request and webhooks).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calls.models import Call, WebhookEvent
from calls.tests.console_data import at, logged_in, send_call, support_member
from calls.timeline import build_timeline
from conftest import minivoice_event


@pytest.fixture
def unfinished(db, post_answer, post_webhook) -> Call:
    """Ended at +14 s with its recording started and never completed."""
    return send_call(post_answer, post_webhook, call_id="call_unfinished")


def page(client: Client, call: Call) -> str:
    response = client.get(reverse("admin:calls_call_change", args=[call.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_opens_with_the_problem_in_a_sentence_then_the_story(admin_client, unfinished):
    html = page(admin_client, unfinished)

    banner = html.index('id="mv-problems"')
    story = html.index('id="mv-story"')
    chart = html.index('class="mv-lanes"')
    entries = html.index('id="mv-entries"')
    fields = html.index('class="form-row')
    assert banner < story < chart < entries < fields
    assert "What went wrong on this call" in html
    assert (
        "Recording never completed:</strong> Recording rec_call_unfinished started at +3.0 s"
        in (html)
    )
    assert "the call ended at +14.0 s, before the recording completed." in html


def test_a_healthy_call_says_no_problems_were_found(admin_client, post_answer, post_webhook):
    call = send_call(post_answer, post_webhook, call_id="call_fine", recording="completed")

    html = page(admin_client, call)

    assert "No problems found on this call" in html
    assert "What went wrong" not in html


def _offsets(html: str) -> list[str]:
    return re.findall(r'<div class="mv-offset">([^<]*)</div>', html)


def test_entries_are_listed_in_time_order_with_relative_and_absolute_times(
    admin_client, unfinished
):
    html = page(admin_client, unfinished)

    timeline = build_timeline(call_id="call_unfinished")
    assert _offsets(html) == [
        *["+0.0 s", "+0.0 s", "+1.0 s", "+1.0 s", "+1.0 s"],
        *["+3.0 s", "+3.0 s", "+14.0 s", "+14.0 s"],
    ]
    assert len(timeline.entries) == 9
    titles = re.findall(r'<div class="mv-title">(?:<a href="[^"]*">)?([^<]*)<', html)
    assert titles == [entry.title for entry in timeline.entries]
    assert "2026-05-29 12:00:03 UTC" in html  # absolute, to the second, with its zone


def test_an_answer_shows_its_actions_in_a_row_and_the_exact_json_escaped_once(
    admin_client, unfinished
):
    html = page(admin_client, unfinished)

    assert "start_recording → say → stop_recording" in html
    assert "took " in html and " ms</span>" in html
    row = html[html.index(">start_recording → say → stop_recording</a>") :]
    details = row[row.index('<details class="mv-raw">') :]
    details = details[: details.index("</details>")]
    assert "What we returned" in details
    assert "&quot;actions&quot;: [" in details  # laid out JSON, escaped once for HTML
    assert "\\&quot;" not in details and "&amp;quot;" not in details


def test_an_event_shows_minivoices_time_and_ours_and_its_state(admin_client, unfinished):
    html = page(admin_client, unfinished)

    completed = WebhookEvent.objects.get(event_type="call.completed")
    received = timezone.localtime(completed.received_at).strftime("%Y-%m-%d %H:%M:%S")
    assert f'MiniVoice\'s time: <time datetime="{completed.occurred_at.isoformat()}">' in html
    assert received in html
    assert '<span class="mv-tag">processed</span>' in html
    assert reverse("admin:calls_webhookevent_change", args=[completed.pk]) in html


def test_a_duplicate_delivery_is_one_row_with_its_count(admin_client, unfinished, post_webhook):
    event = WebhookEvent.objects.get(event_type="recording.started")
    assert post_webhook(event.raw_body.encode(), webhook_id=event.webhook_id).status_code == 200

    html = page(admin_client, unfinished)

    assert html.count(">recording.started</a>") == 1
    assert "delivered 2 times" in html


def test_an_event_that_arrived_out_of_order_is_marked(admin_client, unfinished, post_webhook):
    late = minivoice_event("call.ringing", call_id="call_unfinished", created_at=at(0))
    assert post_webhook(late).status_code == 202

    html = page(admin_client, unfinished)

    row = html[html.index(">call.ringing</a>") :]
    assert "arrived out of order" in row[: row.index("</tr>")]


def _add_events(call: Call, count: int) -> None:
    start = call.started_at
    WebhookEvent.objects.bulk_create(
        WebhookEvent(
            webhook_id=f"msg_many_{call.pk}_{index}",
            event_type="dtmf.received",
            call_minivoice_id=call.minivoice_id,
            occurred_at=start + timedelta(milliseconds=5 * index + 1),
            received_at=start + timedelta(milliseconds=5 * index + 1),
            raw_body="{}",
            payload={},
            state=WebhookEvent.State.IGNORED,
        )
        for index in range(count)
    )


def test_a_call_with_thousands_of_events_shows_the_first_and_last_and_links_to_all(
    admin_client, unfinished
):
    _add_events(unfinished, 3000)

    html = page(admin_client, unfinished)

    all_events = (
        reverse("admin:calls_webhookevent_changelist") + "?call_minivoice_id=call_unfinished"
    )
    assert "… 2804 more event(s) here, left out to keep this page fast" in html
    assert f'<a href="{all_events}">see all events of this call</a>' in html
    assert html.count('class="mv-entry ') < 260
    response = admin_client.get(all_events)
    assert response.status_code == 200


def _queries_for_page(client: Client, call: Call) -> int:
    with CaptureQueriesContext(connection) as queries:
        page(client, call)
    return len(queries)


def test_the_page_runs_as_many_queries_for_2000_events_as_for_10(
    admin_client, post_answer, post_webhook
):
    few = send_call(post_answer, post_webhook, call_id="call_few")
    many = send_call(post_answer, post_webhook, call_id="call_many")
    _add_events(few, 10)
    _add_events(many, 2000)
    page(admin_client, few)  # warm the session and content types

    assert _queries_for_page(admin_client, few) == _queries_for_page(admin_client, many)


def test_the_export_is_exactly_what_call_timeline_json_prints(admin_client, unfinished):
    response = admin_client.get(reverse("admin:calls_call_timeline_json", args=[unfinished.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="call-call_unfinished.json"'
    printed = StringIO()
    call_command("call_timeline", "call_unfinished", "--json", stdout=printed)
    assert json.loads(response.content) == json.loads(printed.getvalue())
    assert json.loads(response.content)["problems"][0]["code"] == "recording_not_completed"


def test_the_page_links_to_its_export(admin_client, unfinished):
    export = reverse("admin:calls_call_timeline_json", args=[unfinished.pk])
    assert f'<a href="{export}" download>Download timeline (JSON)</a>' in page(
        admin_client, unfinished
    )


# -- Live ----------------------------------------------------------------------------------


def _seconds_ago(seconds: int) -> str:
    return (timezone.now() - timedelta(seconds=seconds)).isoformat()


@pytest.fixture
def going_on(db, post_answer, post_webhook) -> Call:
    """Began a few seconds ago, answered with our flow, not ended yet."""
    post_webhook(minivoice_event("call.initiated", call_id="call_live", created_at=_seconds_ago(9)))
    post_answer({"call": {"id": "call_live"}, "variables": {}, "created_at": _seconds_ago(8)})
    post_webhook(minivoice_event("call.answered", call_id="call_live", created_at=_seconds_ago(8)))
    return Call.objects.get(minivoice_id="call_live")


def test_a_call_in_progress_polls_for_news_and_an_ended_call_does_not(
    admin_client, going_on, unfinished
):
    live_url = reverse("admin:calls_call_live", args=[going_on.pk])
    html = page(admin_client, going_on)
    assert f'data-live-url="{live_url}"' in html
    assert "calls/timeline.js" in html  # the poll's script (a static file, for the CSP)
    assert "This call is still going on" in html

    assert "data-live-url" not in page(admin_client, unfinished)


def test_the_live_endpoint_shows_new_events_and_says_when_the_call_ended(
    admin_client, going_on, post_webhook
):
    url = reverse("admin:calls_call_live", args=[going_on.pk])
    before = admin_client.get(url).json()
    assert before["live"] is True
    assert "recording.started" not in before["html"]

    post_webhook(
        minivoice_event(
            "recording.started",
            call_id="call_live",
            created_at=_seconds_ago(5),
            recording_id="rec_live",
        )
    )
    during = admin_client.get(url).json()
    assert during["live"] is True
    assert ">recording.started</a>" in during["html"]

    post_webhook(minivoice_event("call.completed", call_id="call_live", created_at=_seconds_ago(1)))
    after = admin_client.get(url).json()
    assert after["live"] is False
    assert ">call.completed</a>" in after["html"]


@pytest.mark.parametrize("name", ["admin:calls_call_live", "admin:calls_call_timeline_json"])
def test_the_timeline_endpoints_answer_404_for_an_unknown_call(admin_client, db, name):
    admin_client.raise_request_exception = False
    assert admin_client.get(reverse(name, args=[999_999])).status_code == 404


@pytest.mark.parametrize("name", ["admin:calls_call_live", "admin:calls_call_timeline_json"])
def test_the_timeline_endpoints_are_for_staff_who_may_view_calls(unfinished, name):
    url = reverse(name, args=[unfinished.pk])
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("admin:login"))
    newcomer = get_user_model().objects.create_user("newcomer", password="x", is_staff=True)
    assert logged_in(newcomer).get(url).status_code == 403
    assert logged_in(support_member()).get(url).status_code == 200


# -- Links by call id ----------------------------------------------------------------------


def test_a_link_by_call_id_opens_the_call(admin_client, unfinished):
    response = admin_client.get(reverse("admin:calls_call_by_id"), {"id": "call_unfinished"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:calls_call_change", args=[unfinished.pk])


@pytest.mark.parametrize("value", ["call_nobody", "", "x" * 5000, "call_\x00"])
def test_a_link_by_an_unknown_call_id_opens_the_events_stored_for_it(admin_client, db, value):
    response = admin_client.get(reverse("admin:calls_call_by_id"), {"id": value})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:calls_webhookevent_changelist"))
