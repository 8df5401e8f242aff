"""`simulate_call --flow NAME [--draft] --digits …` plays a call flow over real HTTP: the
issue's consent IVR, with consent, without, and with no input twice."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from calls.models import AnswerExchange, Call, CallProblem
from calls.tests.flow_data import main_line_published
from minivoice_emulator.tests.test_simulate_call_command import simulate_json
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
