"""The emulator's own reading of a flow document: the steps a call goes through for the
keys pressed, and the keys that reach an action."""

from __future__ import annotations

import pytest

from calls.tests.flow_data import main_line
from minivoice_emulator import paths

SAY = {"say": {"text": "Hello."}}


def flow(first: str, **steps: dict) -> dict:
    return {"name": "Test", "first_step": first, "steps": steps}


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["1"], ["greeting", "record"]),
        (["2"], ["greeting", "no_recording"]),
        ([], ["greeting", "greeting_again", "goodbye"]),
        (["", ""], ["greeting", "greeting_again", "goodbye"]),
        (["9", "1"], ["greeting", "greeting_again", "record"]),
        (["9", "9"], ["greeting", "greeting_again", "goodbye"]),
        (["21"], ["greeting", "no_recording"]),  # max_digits 1: the 1 is never heard
        (["1", "2", "2"], ["greeting", "record"]),  # keys left over change nothing
    ],
    ids=["1", "2", "nothing", "none-twice", "other-then-1", "other-twice", "two-keys", "extra"],
)
def test_the_consent_ivr_goes_where_its_branches_say(keys, expected):
    assert paths.expected_path(main_line(), keys) == expected


def test_a_caller_who_stops_at_the_first_prompt_reaches_only_the_first_step():
    assert paths.expected_path(main_line(), ["1"], stops_at_first_prompt=True) == ["greeting"]


def test_a_collect_before_any_prompt_is_answered_before_the_caller_stops_listening():
    document = flow(
        "ask",
        ask={
            "actions": [{"collect": {"max_digits": 1}}],
            "next": {"1": "talk", "no_input": "talk"},
        },
        talk={"actions": [SAY, {"hangup": {}}]},
    )

    assert paths.expected_path(document, ["1"], stops_at_first_prompt=True) == ["ask", "talk"]


def test_a_redirect_goes_to_its_next_step_and_presses_nothing():
    document = flow(
        "hello",
        hello={"actions": [SAY, {"redirect": {}}], "next": {"redirect": "ask"}},
        ask={"actions": [{"collect": {}}], "next": {"5": "bye", "no_input": "hello"}},
        bye={"actions": [{"type": "hangup"}]},
    )

    assert paths.expected_path(document, ["5"]) == ["hello", "ask", "bye"]


def test_actions_after_a_hangup_never_run_so_its_collect_never_hands_back():
    document = flow(
        "end",
        end={"actions": [{"hangup": {}}, {"collect": {}}], "next": {"no_input": "end"}},
    )

    assert paths.expected_path(document, []) == ["end"]


def test_a_branch_to_no_step_ends_the_path_where_the_app_can_only_answer_its_fallback():
    document = flow("ask", ask={"actions": [{"collect": {}}], "next": {"1": "gone"}})

    assert paths.expected_path(document, ["1"]) == ["ask", paths.NO_STEP]
    assert paths.expected_path(document, [""]) == ["ask", paths.NO_STEP]


def test_a_loop_stops_where_minivoice_stops_asking():
    document = flow("again", again={"actions": [{"redirect": {}}], "next": {"redirect": "again"}})

    path = paths.expected_path(document, [])

    assert path == ["again"] * paths.MAX_ANSWER_REQUESTS


@pytest.mark.parametrize(
    ("action", "keys"),
    [("transfer", ["2"]), ("start_recording", ["1"]), ("collect", []), ("play", None)],
)
def test_keys_to_an_action_are_the_fewest_named_keys_that_reach_it(action, keys):
    assert paths.keys_to(main_line(), action) == keys


def test_keys_to_an_action_behind_no_input_press_nothing_there():
    document = main_line()
    document["steps"]["greeting"]["next"] = {"no_input": "no_recording", "other": "goodbye"}

    assert paths.keys_to(document, "transfer") == [""]


def test_an_action_after_a_hangup_is_never_reached():
    document = flow("end", end={"actions": [{"hangup": {}}, {"transfer": {"to": "+15550123"}}]})

    assert paths.keys_to(document, "transfer") is None
    assert not paths.uses(document, "transfer")
    assert paths.uses(main_line(), "transfer")


@pytest.mark.parametrize(
    "document",
    [{}, {"first_step": "x"}, {"first_step": 3, "steps": []}, {"steps": {"a": "not a step"}}],
)
def test_a_document_without_steps_reads_as_no_step(document):
    assert paths.expected_path(document, ["1"]) == [paths.NO_STEP]
    assert paths.keys_to(document, "transfer") is None
