"""The answer_url answering from call flows: the number's flow, the step URLs it writes,
the branches MiniVoice's digits pick, test numbers reaching the draft, and every way a
follow-up can be refused (each answered with the safe fallback, the reason kept)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import flows
from calls.flows.document import read_document
from calls.flows.publishing import flow_import, flow_publish, flow_rollback
from calls.flows.tokens import StepToken, step_url
from calls.models import AnswerExchange, Call, CallProblem, Flow, FlowsRevision
from calls.protocol import contract
from calls.protocol.actions import action_name, validate_payload
from calls.tests.flow_data import (
    MAIN_LINE_NUMBER,
    TEST_NUMBER,
    ask,
    collect_url,
    main_line,
    main_line_published,
)
from conftest import minivoice_event

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    return [action_name(action) for action in response.json()["actions"]]


def last_exchange() -> AnswerExchange:
    return AnswerExchange.objects.order_by("-pk").first()


def assert_fallback(response, reason: str) -> AnswerExchange:
    assert response.status_code == 200
    assert response.json() == flows.FALLBACK_PAYLOAD
    exchange = last_exchange()
    assert exchange.flow == flows.FALLBACK_FLOW
    assert reason in exchange.error
    return exchange


# -- The number's flow --------------------------------------------------------------------


def test_a_new_database_answers_every_number_with_the_published_seed_flow(client):
    response = ask(client, to="+15559999")

    assert names(response) == ["start_recording", "say", "stop_recording"]
    exchange = last_exchange()
    assert (exchange.flow, exchange.flow_version, exchange.step) == ("default", 1, "start")
    assert not exchange.flow_draft
    flow = Flow.objects.get()
    assert flow.is_default and flow.live_version.number == 1


def test_the_dialled_number_reaches_its_flow_with_a_collect_url_back_to_the_answer_url(client):
    main_line_published()

    response = ask(client, to=MAIN_LINE_NUMBER)

    assert names(response) == ["say", "collect"]
    assert validate_payload(response.json()).is_valid
    url = collect_url(response)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "testserver", "/minivoice/answer/")
    assert list(parse_qs(parts.query)) == [contract.STEP_TOKEN_PARAM]
    exchange = last_exchange()
    assert (exchange.flow, exchange.flow_version, exchange.step) == ("Main line", 1, "greeting")
    assert exchange.response_body.encode() == response.content
    assert Call.objects.get().last_step.startswith("Main line v1, step 'greeting'")


@pytest.mark.parametrize(
    ("digits", "step", "actions"),
    [
        ("1", "record", ["start_recording", "say", "pause", "stop_recording", "hangup"]),
        ("2", "no_recording", ["say", "transfer"]),
        (None, "greeting_again", ["say", "collect"]),
        ("", "greeting_again", ["say", "collect"]),
        ("7", "greeting_again", ["say", "collect"]),
    ],
    ids=["pressed-1", "pressed-2", "no-input", "empty-digits", "other-key"],
)
def test_the_digits_pick_the_branch(client, digits, step, actions):
    main_line_published()
    first = ask(client)

    response = ask(client, url=collect_url(first), digits=digits)

    assert names(response) == actions
    exchange = last_exchange()
    assert (exchange.flow, exchange.flow_version, exchange.step, exchange.error) == (
        "Main line",
        1,
        step,
        "",
    )
    assert Call.objects.count() == 1
    if digits:
        assert f"step {step!r} (pressed {digits})" in Call.objects.get().last_step


def test_no_input_twice_ends_at_goodbye(client):
    main_line_published()
    again = ask(client, url=collect_url(ask(client)))

    response = ask(client, url=collect_url(again))

    assert names(response) == ["say", "hangup"]
    assert last_exchange().step == "goodbye"


def test_a_call_that_began_on_a_version_keeps_it_after_a_publish(client):
    main_line_published()
    first = ask(client)
    changed = main_line()
    changed["steps"]["record"]["actions"][1] = {"say": {"text": "Version two."}}
    flow_import(document=read_document(changed), publish=True)

    response = ask(client, url=collect_url(first), digits="1")

    assert "Version two." not in response.content.decode()
    assert last_exchange().flow_version == 1
    assert (
        "Version two."
        in ask(
            client, call_id="call_new", url=collect_url(ask(client, call_id="call_new")), digits="1"
        ).content.decode()
    )


# -- What another process published -------------------------------------------------------


def test_a_publish_is_answered_at_once_though_this_process_kept_the_old_flows(client):
    ask(client, call_id="call_before")  # the process keeps the flows as they are now
    main_line_published()  # as if another process published: nothing here was told

    response = ask(client, call_id="call_after")

    assert names(response) == ["say", "collect"]
    assert last_exchange().flow == "Main line"


def test_a_rollback_is_answered_at_once(client):
    imported = main_line_published()
    changed = main_line()
    changed["steps"]["goodbye"]["actions"][0] = {"say": {"text": "Bye now."}}
    flow_import(document=read_document(changed), publish=True)
    ask(client, call_id="call_v2")

    flow_rollback(version=imported.version)
    first = ask(client, call_id="call_v1")
    again = ask(client, call_id="call_v1", url=collect_url(first))
    response = ask(client, call_id="call_v1", url=collect_url(again))

    assert response.json()["actions"][0] == {"say": {"text": "Goodbye."}}
    assert last_exchange().flow_version == 1


def test_a_follow_up_reads_no_flow_table_once_the_version_is_kept(client):
    main_line_published()
    url = collect_url(ask(client))

    with CaptureQueriesContext(connection) as queries:
        response = ask(client, url=url, digits="1")

    assert last_exchange().step == "record", response.content
    flow_tables = [q["sql"] for q in queries.captured_queries if "calls_flow" in q["sql"]]
    assert flow_tables == []


def test_a_first_request_reads_the_flows_only_inside_the_call_statement(client):
    main_line_published()
    ask(client, call_id="call_warm")

    with CaptureQueriesContext(connection) as queries:
        ask(client, call_id="call_cold")

    assert last_exchange().step == "greeting"
    assert [q for q in queries.captured_queries if 'calls_flow"' in q["sql"]] == []
    assert len([q for q in queries.captured_queries if "calls_flowsrevision" in q["sql"]]) == 1


# -- Test numbers reach the draft ---------------------------------------------------------


def test_a_call_from_a_test_number_reaches_the_draft_and_is_marked_draft(client):
    imported = main_line_published()
    step = imported.flow.steps.get(name="goodbye")
    step.actions = [{"say": {"text": "Draft goodbye."}}, {"hangup": {}}]
    step.save()

    first = ask(client, from_=TEST_NUMBER)
    again = ask(client, url=collect_url(first))
    response = ask(client, url=collect_url(again))

    assert response.json()["actions"][0] == {"say": {"text": "Draft goodbye."}}
    exchange = last_exchange()
    assert (exchange.flow, exchange.flow_version, exchange.flow_draft) == ("Main line", None, True)
    assert "Draft goodbye." not in ask(client, call_id="caller").content.decode()


# -- Refused follow-ups: the fallback, and why --------------------------------------------


def test_a_tampered_token_answers_the_fallback_and_keeps_why(client):
    main_line_published()
    url = collect_url(ask(client))

    response = ask(client, url=url[:-3] + "AAA", digits="1")

    exchange = assert_fallback(response, "step token is not ours")
    assert exchange.call.minivoice_id == "call_flow"
    assert "fallback" in Call.objects.get().last_step


def test_another_calls_token_changes_nothing(client):
    main_line_published()
    url = collect_url(ask(client, call_id="call_a"))

    response = ask(client, call_id="call_b", url=url, digits="1")

    assert_fallback(response, "made for call 'call_a', not 'call_b'")
    assert "start_recording" not in response.content.decode()


def test_an_expired_token_answers_the_fallback(client, monkeypatch):
    main_line_published()
    url = collect_url(ask(client))
    monkeypatch.setattr(contract, "STEP_TOKEN_MAX_AGE", timedelta(seconds=-1))

    assert_fallback(ask(client, url=url, digits="1"), "step token expired")


def test_a_step_missing_from_the_version_answers_the_fallback(client):
    imported = main_line_published()
    url = step_url(
        "http://testserver/minivoice/answer/",
        StepToken("call_flow", imported.flow.pk, imported.version.number, "nowhere"),
    )
    ask(client)

    assert_fallback(ask(client, url=url, digits="1"), "step 'nowhere' is missing")


def test_a_version_that_does_not_exist_answers_the_fallback(client):
    imported = main_line_published()
    url = step_url(
        "http://testserver/minivoice/answer/",
        StepToken("call_flow", imported.flow.pk, 99, "greeting"),
    )

    assert_fallback(ask(client, url=url, digits="1"), "v99 no longer exists")


def test_a_number_with_no_flow_and_no_default_raises_answer_url_failed(client, post_webhook):
    Flow.objects.filter(name="default").update(live_version=None)
    Flow.objects.get(name="default").versions.all().delete()
    FlowsRevision.raise_revision()

    response = ask(client, to="+15550000")
    post_webhook(
        minivoice_event(
            "call.completed", call_id="call_flow", status="completed", duration_seconds=3
        )
    )

    assert_fallback(response, "no flow answers +15550000 and no flow is the default")
    problem = CallProblem.objects.get(code=CallProblem.Code.ANSWER_URL_FAILED)
    assert "no flow answers +15550000" in problem.message


# -- What support reads -------------------------------------------------------------------


def test_call_timeline_json_carries_flow_version_and_step(client):
    main_line_published()
    ask(client, url=collect_url(ask(client)), digits="2")
    out = io.StringIO()

    call_command("call_timeline", "call_flow", "--json", stdout=out)

    document = json.loads(out.getvalue())
    entries = [e for e in document["entries"] if e["kind"] == "answer_url"]
    assert [(e["flow"], e["flow_version"], e["step"]) for e in entries] == [
        ("Main line", 1, "greeting"),
        ("Main line", 1, "no_recording"),
    ]
    call = document["call"]
    assert (call["flow"], call["flow_step"], call["flow_position"]) == (
        "Main line",
        "no_recording",
        "Main line v1, step 'no_recording' (pressed 2)",
    )


def test_call_timeline_says_the_flows_step_under_the_last_step(client):
    main_line_published()
    ask(client, url=collect_url(ask(client)), digits="1")
    out = io.StringIO()

    call_command("call_timeline", "call_flow", stdout=out)

    assert "  Flow step: Main line v1, step 'record' (pressed 1)\n" in out.getvalue()


def test_publishing_the_seed_flow_again_keeps_answering_it(client):
    flow_publish(flow=Flow.objects.get(name="default"))

    assert names(ask(client, to="+15559999")) == ["start_recording", "say", "stop_recording"]
    assert last_exchange().flow_version == 2


def test_the_call_keeps_the_flows_step_it_reached_and_the_keys_that_took_it_there(
    client, post_webhook
):
    main_line_published()
    first = ask(client, at="2026-05-29T12:00:01Z")
    ask(client, url=collect_url(first), digits="2", at="2026-05-29T12:00:08Z")

    # MiniVoice's news after it moves the last step on, never the flow's step.
    post_webhook(
        minivoice_event(
            "call.completed",
            call_id="call_flow",
            status="completed",
            duration_seconds=40,
            created_at="2026-05-29T12:00:40Z",
        )
    )

    call = Call.objects.get()
    assert (call.flow, call.flow_step) == ("Main line", "no_recording")
    assert call.flow_position == "Main line v1, step 'no_recording' (pressed 2)"
    assert call.last_step.startswith("Call ended (completed) after: Main line v1, step 'no_rec")


def test_no_input_names_no_keys_in_the_flows_step(client):
    main_line_published()

    ask(client, url=collect_url(ask(client)))

    assert Call.objects.get().flow_position == "Main line v1, step 'greeting_again'"


def test_a_fallback_answer_is_the_calls_flow_step_with_no_step_name(client):
    main_line_published()
    url = collect_url(ask(client))

    ask(client, url=url[:-3] + "AAA", digits="1")

    call = Call.objects.get()
    assert (call.flow, call.flow_step) == (flows.FALLBACK_FLOW, "")
    assert call.flow_position == "fallback (pressed 1)"
