"""`simulate_call --flow NAME [--draft] --digits …` plays a call flow over real HTTP: the
issue's consent IVR, with consent, without, and with no input twice."""

from __future__ import annotations

import copy
import dataclasses
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from calls.models import AnswerExchange, Call, CallProblem
from calls.tests.flow_data import main_line_published
from conftest import TEST_SECRET
from minivoice_emulator import flows, session
from minivoice_emulator.scenarios import SCENARIOS
from minivoice_emulator.tests.test_simulate_call_command import simulate, simulate_json
from recordings.models import Recording

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def consent_ivr(transactional_db):
    return main_line_published().flow


def steps() -> list[str]:
    return list(AnswerExchange.objects.order_by("pk").values_list("step", flat=True))


def test_pressing_1_consents_and_the_call_is_recorded(consent_ivr, app_server):
    document = simulate_json(app_server, "--flow", "Main line", "--digits", "1")

    assert document["calls"][0]["verdict"] == "ok", document
    assert steps() == ["greeting", "record"]
    assert Recording.objects.get().status == Recording.Status.COMPLETED
    assert not CallProblem.objects.exists()


def test_pressing_2_is_transferred_without_recording_and_without_problem(consent_ivr, app_server):
    document = simulate_json(app_server, "--flow", "Main line", "--digits", "2")

    assert document["calls"][0]["verdict"] == "ok", document
    assert steps() == ["greeting", "no_recording"]
    assert not Recording.objects.exists()
    assert not CallProblem.objects.exists()


def test_no_input_twice_ends_at_goodbye(consent_ivr, app_server):
    document = simulate_json(
        app_server, "--flow", "Main line", "--digits", "none", "--digits", "none"
    )

    assert document["calls"][0]["verdict"] == "ok", document
    assert steps() == ["greeting", "greeting_again", "goodbye"]
    assert "step 'goodbye'" in Call.objects.get().last_step


def test_draft_reaches_the_draft_from_a_test_number(consent_ivr, app_server):
    document = simulate_json(app_server, "--flow", "Main line", "--draft", "--digits", "2")

    assert document["calls"][0]["verdict"] == "ok", document
    assert set(AnswerExchange.objects.values_list("flow_draft", flat=True)) == {True}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flow", "Nope"], "No flow is named 'Nope'"),
        (["--draft"], "--draft needs --flow NAME"),
    ],
)
def test_a_flow_that_cannot_be_played_exits_2(consent_ivr, app_server, args, message):
    with pytest.raises(CommandError, match=message) as failure:
        simulate_json(app_server, *args)

    assert failure.value.returncode == 2
    assert not AnswerExchange.objects.exists()


# -- The verdict's path of steps ------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "path"),
    [
        (["1"], "greeting → record"),
        (["2"], "greeting → no_recording"),
        (["none", "none"], "greeting → greeting_again → goodbye"),
        (["9", "1"], "greeting → greeting_again → record"),
    ],
)
def test_the_verdict_holds_the_steps_served_to_the_path_the_version_says(
    consent_ivr, app_server, keys, path
):
    output = simulate(app_server, "--flow", "Main line", *(f"--digits={k}" for k in keys))

    row = next(line for line in output.splitlines() if "path of steps" in line)
    assert f"Main line v1: {path}" in row
    assert row.split("│")[1].strip() == "ok"
    assert "Verdict: every expectation matches." in output


def test_steps_that_differ_from_the_versions_path_are_a_verdict_that_differs(
    consent_ivr, app_server
):
    # What the app serves against what a version saying otherwise would: pressing 1 there
    # says goodbye.
    flow = flows.flow_named("Main line")
    document = copy.deepcopy(flow.document)
    document["steps"]["greeting"]["next"]["1"] = "goodbye"
    other = dataclasses.replace(flow, document=document)
    plan = session.Plan(
        base_url=app_server.url,
        answer_url=app_server.url + "/minivoice/answer/",
        app_answer_url=app_server.url + "/minivoice/answer/",
        api_url="http://127.0.0.1:9",
        secret=TEST_SECRET,
        scenario=SCENARIOS["happy"],
        digits=["1"],
        flow=other,
        to_number=other.to_number,
    )

    verdict = session.play(plan).results[0].verdict

    assert [(m.what, m.expected, m.recorded) for m in verdict.mismatches] == [
        ("path of steps", "Main line v1: greeting → goodbye", "Main line v1: greeting → record")
    ]


def test_a_test_number_is_held_to_the_drafts_path(consent_ivr, app_server):
    consent_ivr.steps.filter(name="greeting").update(
        next={"1": "goodbye", "2": "no_recording", "no_input": "goodbye", "other": "goodbye"}
    )

    output = simulate(app_server, "--flow", "Main line", "--draft", "--digits", "1")

    assert "Main line draft: greeting → goodbye" in output
    assert "Verdict: every expectation matches." in output


# -- Scenarios about a collect or a transfer play a flow that has one -----------------------


def test_no_digits_plays_a_flow_with_a_collect_and_hears_goodbye(consent_ivr, app_server):
    document = simulate_json(app_server, "--scenario", "no-digits")

    assert document["calls"][0]["verdict"] == "ok", document
    assert steps() == ["greeting", "greeting_again", "goodbye"]
    assert Call.objects.get().to_number == "+15550199"


@pytest.mark.parametrize("chaos", [[], ["--chaos", "--seed", "5"]], ids=["in-order", "chaos"])
def test_busy_transfer_presses_the_keys_that_reach_a_transfer_and_ends_busy(
    consent_ivr, app_server, chaos
):
    document = simulate_json(app_server, "--scenario", "busy-transfer", *chaos)

    assert document["calls"][0]["verdict"] == "ok", document
    assert steps() == ["greeting", "no_recording"]
    call = Call.objects.get()
    assert (call.final_status, call.flow_step) == (Call.FinalStatus.BUSY, "no_recording")
    assert not Recording.objects.exists()


def test_busy_transfer_with_keys_given_presses_those(consent_ivr, app_server):
    document = simulate_json(app_server, "--scenario", "busy-transfer", "--digits", "1")

    assert document["calls"][0]["verdict"] == "ok", document
    assert steps() == ["greeting", "record"]
    assert Call.objects.get().final_status == Call.FinalStatus.COMPLETED  # no transfer


def test_with_no_flow_that_transfers_busy_transfer_says_so_and_plays_the_default(app_server):
    err = StringIO()
    out = StringIO()
    call_command(
        "simulate_call",
        "--base-url",
        app_server.url,
        "--scenario",
        "busy-transfer",
        stdout=out,
        stderr=err,
    )

    assert "No live flow runs transfer: busy-transfer plays against the default flow" in (
        err.getvalue()
    )
    assert "default v1: start" in out.getvalue()
    assert steps() == ["start"]


# -- The demo -------------------------------------------------------------------------------


def test_the_demo_adds_three_calls_on_the_consent_ivr_when_it_is_live(consent_ivr, app_server):
    output = simulate(app_server, "--demo")

    assert output.count("as expected") == 7, output
    by_call = {
        call.minivoice_id: call
        for call in Call.objects.filter(minivoice_id__startswith="call_demo_consent")
    }
    assert by_call["call_demo_consent_given"].flow_step == "record"
    assert by_call["call_demo_consent_declined"].flow_step == "no_recording"
    assert Call.objects.get(minivoice_id="call_demo_no_input_twice").flow_step == "goodbye"
    assert Call.objects.get(minivoice_id="call_demo_happy").flow == "default"
    recorded = set(Recording.objects.values_list("call__minivoice_id", flat=True))
    assert "call_demo_consent_given" in recorded
    assert not recorded & {"call_demo_consent_declined", "call_demo_no_input_twice"}
    assert not CallProblem.objects.filter(call__minivoice_id__startswith="call_demo_consent")
