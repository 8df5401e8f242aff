"""Phone numbers by role, over every page and JSON the console serves about a call: a
member of Support never gets a full number (the whole response body is searched), a
Support lead and a superuser get them in full; a masked member still finds a call by its
full number; operators' commands print them in full; flows' test numbers are masked for
Support."""

from __future__ import annotations

import json
from io import StringIO
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from calls.models import AnswerExchange, Call, CallProblem, Flow, WebhookEvent
from calls.roles import FLOW_EDITORS_GROUP
from calls.tests.console_data import (
    at,
    logged_in,
    send_call,
    support_lead,
    support_member,
)
from conftest import ANSWER_URL, minivoice_event, signed
from recordings.models import AudioState, Recording, TranscriptState

pytestmark = pytest.mark.django_db

CALLER = "+14155550123"
LINE = "+14155550199"
# The digits after the country code: found however a number is written (+1…, %2B1…, bare).
SECRETS = ("4155550123", "4155550199")
SAID = "Please call me back on 415 555 0123 tonight."


@pytest.fixture
def call(client, post_answer, post_webhook) -> Call:
    """A call whose numbers are everywhere MiniVoice and we put them: the answer_url
    request's body, a query string (one number without its +), an event's data, and a
    transcript where the caller says their number."""
    call = send_call(
        post_answer,
        post_webhook,
        call_id="call_privacy",
        from_number=CALLER,
        to_number=LINE,
        recording="completed",
    )
    body = json.dumps(
        {
            "call": {"id": "call_privacy", "status": "in_progress", "from": CALLER, "to": LINE},
            "variables": {"digits": "1"},
            "created_at": at(6),
        }
    ).encode()
    query = "?from=14155550123&to=%2B14155550199"
    response = client.post(
        ANSWER_URL + query, data=body, content_type="application/json", **signed(body)
    )
    assert response.status_code == 200
    response = post_webhook(
        minivoice_event(
            "call.ringing", call_id="call_privacy", created_at=at(0), **{"from": CALLER, "to": LINE}
        )
    )
    assert response.status_code == 202
    Recording.objects.filter(call=call).update(
        audio_state=AudioState.STORED,
        audio_key="recordings/pr/rec_call_privacy.wav",
        transcript_state=TranscriptState.DONE,
        transcript=SAID,
        transcript_segments=[{"start_seconds": 0.5, "end_seconds": 3.0, "text": SAID}],
    )
    CallProblem.objects.get_or_create(
        call=call,
        code=CallProblem.Code.ENDED_EARLY,
        defaults={"severity": "warning", "message": f"{CALLER} hung up early."},
    )
    return call


def console_urls(call: Call) -> dict[str, str]:
    """Every page and JSON document the console serves about the call."""
    urls = {
        "call list": reverse("admin:calls_call_changelist"),
        "call page": reverse("admin:calls_call_change", args=[call.pk]),
        "timeline export": reverse("admin:calls_call_timeline_json", args=[call.pk]),
        "live poll": reverse("admin:calls_call_live", args=[call.pk]),
        "exchange list": reverse("admin:calls_answerexchange_changelist"),
        "event list": reverse("admin:calls_webhookevent_changelist"),
        "recording list": reverse("admin:recordings_recording_changelist"),
        "recording list searched": reverse("admin:recordings_recording_changelist") + "?q=tonight",
        "problem list": reverse("admin:calls_callproblem_changelist"),
    }
    for exchange in AnswerExchange.objects.filter(call_minivoice_id=call.minivoice_id):
        urls[f"exchange #{exchange.pk}"] = reverse(
            "admin:calls_answerexchange_change", args=[exchange.pk]
        )
    for event in WebhookEvent.objects.filter(call_minivoice_id=call.minivoice_id):
        urls[f"event #{event.pk}"] = reverse("admin:calls_webhookevent_change", args=[event.pk])
    for recording in Recording.objects.filter(call=call):
        urls[f"recording #{recording.pk}"] = reverse(
            "admin:recordings_recording_change", args=[recording.pk]
        )
    for problem in CallProblem.objects.filter(call=call):
        urls[f"problem #{problem.pk}"] = reverse(
            "admin:calls_callproblem_change", args=[problem.pk]
        )
    return urls


def fetch(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def readable(body: str) -> str:
    """A JSON body as its text says it (the export writes bullets as \\u2022)."""
    try:
        return json.dumps(json.loads(body), ensure_ascii=False)
    except ValueError:
        return body


def test_the_data_really_holds_the_numbers_in_every_shape(call):
    # Proves the fixture: what the pages are searched for is in what they show.
    exchange = AnswerExchange.objects.filter(call_minivoice_id="call_privacy").exclude(
        query_string=""
    )
    assert exchange.get().query_string == "from=14155550123&to=%2B14155550199"
    assert any(CALLER in event.raw_body for event in WebhookEvent.objects.all())
    assert Recording.objects.get(call=call).transcript == SAID


def test_a_support_member_gets_no_full_number_anywhere(call):
    support = logged_in(support_member("sam"))

    for name, url in console_urls(call).items():
        body = fetch(support, url)
        for digits in SECRETS:
            assert digits not in body, f"{name} shows a full number: {url}"


def test_a_support_member_sees_where_the_numbers_are_masked(call):
    support = logged_in(support_member("sam"))
    urls = console_urls(call)

    for name in ["call list", "call page", "timeline export", "live poll"]:
        assert "+1•••••0123" in readable(fetch(support, urls[name])), name
    page = fetch(support, urls["call page"])
    assert "+1•••••0123 called +1•••••0199" in page  # the story
    assert "•••••0123 tonight" in page  # the transcript, said aloud
    assert "&quot;from&quot;: &quot;+1•••••0123&quot;" in page  # the exact JSON
    exchange = AnswerExchange.objects.exclude(query_string="").get()
    exchange_page = fetch(support, reverse("admin:calls_answerexchange_change", args=[exchange.pk]))
    assert "from=•••••0123&amp;to=+1•••••0199" in exchange_page  # its query string
    export = json.loads(fetch(support, urls["timeline export"]))
    assert export["call"]["from"] == "+1•••••0123"
    assert export["recordings"][0]["transcript"] == "Please call me back on •••••0123 tonight."
    searched = fetch(support, urls["recording list searched"])
    assert "•••••0123 <mark>tonight</mark>" in searched


@pytest.mark.parametrize("reader", ["lead", "superuser"])
def test_a_support_lead_and_a_superuser_get_every_number_in_full(call, django_user_model, reader):
    if reader == "lead":
        user = support_lead("lea")
    else:
        user = django_user_model.objects.create_superuser("root", password="x")
    client = logged_in(user)
    urls = console_urls(call)

    for name in ["call list", "call page", "timeline export", "live poll"]:
        assert CALLER in fetch(client, urls[name]), name
    exchanges = [fetch(client, url) for name, url in urls.items() if name.startswith("exchange #")]
    events = [fetch(client, url) for name, url in urls.items() if name.startswith("event #")]
    assert exchanges and all(CALLER in page for page in exchanges)
    assert any(CALLER in page for page in events)
    page = fetch(client, urls["call page"])
    assert f"{CALLER} called {LINE}" in page
    assert SAID in page
    recording = next(url for name, url in urls.items() if name.startswith("recording #"))
    assert SAID in fetch(client, recording)
    assert "•" not in readable(fetch(client, urls["timeline export"]))


def test_a_masked_member_still_finds_a_call_by_its_full_number(call, post_answer, post_webhook):
    send_call(post_answer, post_webhook, call_id="call_other", from_number="+14155550999")
    support = logged_in(support_member("sam"))

    for term in [CALLER, "14155550123", "+1415555012"]:
        url = reverse("admin:calls_call_changelist") + "?" + f"q={term.replace('+', '%2B')}"
        body = fetch(support, url)
        assert "call_privacy" in body and "call_other" not in body, term
        assert "+1•••••0123 → +1•••••0199" in body
        # The only full number on the page is the one typed, echoed in the search box.
        # The term typed, and its URL-encoded forms in the list's links.
        left = body
        for echoed in (quote(quote(term, safe="")), quote(term, safe=""), term):
            left = left.replace(echoed, "")
        assert SECRETS[0] not in left, left[left.find(SECRETS[0]) - 300 :][:400]


def test_an_operators_command_prints_the_numbers_in_full(call):
    out = StringIO()

    call_command("call_timeline", "call_privacy", "--json", stdout=out)

    document = json.loads(out.getvalue())
    assert document["call"]["from"] == CALLER
    assert document["recordings"][0]["transcript"] == SAID


def test_stored_rows_are_never_changed_by_masking(call):
    before = list(WebhookEvent.objects.order_by("pk").values_list("raw_body", flat=True))
    support = logged_in(support_member("sam"))
    for url in console_urls(call).values():
        fetch(support, url)

    assert list(WebhookEvent.objects.order_by("pk").values_list("raw_body", flat=True)) == before
    call.refresh_from_db()
    assert (call.from_number, call.to_number) == (CALLER, LINE)
    assert Recording.objects.get(call=call).transcript == SAID


def test_a_flows_test_numbers_are_masked_for_support_and_whole_for_a_lead_and_an_editor(
    db, django_user_model
):
    flow = Flow.objects.get(is_default=True)
    Flow.objects.filter(pk=flow.pk).update(test_numbers=["+14155550177"])
    change = reverse("admin:calls_flow_change", args=[flow.pk])
    diff = reverse("admin:calls_flow_diff", args=[flow.pk]) + "?before=1&after=draft"
    editor = django_user_model.objects.create_user("ed", password="x", is_staff=True)
    editor.groups.add(Group.objects.get(name=FLOW_EDITORS_GROUP))

    support, lead = logged_in(support_member("sam")), logged_in(support_lead("lea"))
    support_pages = [fetch(support, url) for url in (change, diff)]
    lead_pages = [fetch(lead, url) for url in (change, diff)]
    editor_page = fetch(logged_in(editor), change)

    for page in support_pages:
        assert "4155550177" not in page
        assert "+1•••••0177" in page
    for page in lead_pages:
        assert "+14155550177" in page
    assert "+14155550177" in editor_page  # in the form, to be edited
