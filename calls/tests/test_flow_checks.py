"""The checks before publishing (calls.flows.checks): every error and warning, each with
its path in the flow document and plain words."""

from __future__ import annotations

import pytest

from calls.flows.checks import check_flow
from calls.flows.document import DocumentError, read_document
from calls.tests.flow_data import main_line


def found(document: dict) -> tuple[dict[str, str], dict[str, str]]:
    checked = check_flow(read_document(document))
    return (
        {problem.path: problem.message for problem in checked.errors},
        {problem.path: problem.message for problem in checked.warnings},
    )


def test_the_consent_ivr_has_no_error_and_no_warning():
    assert found(main_line()) == ({}, {})


def test_an_action_that_fails_the_schema_is_an_error_at_its_path():
    document = main_line()
    document["steps"]["greeting"]["actions"][1] = {"collect": {"max_digits": 40}}

    errors, _ = found(document)

    assert errors == {
        "steps.greeting.actions[1].collect.max_digits": "must be a whole number from 1 to 32"
    }


def test_a_url_written_by_hand_is_an_error():
    document = main_line()
    document["steps"]["greeting"]["actions"][1]["collect"]["url"] = "https://evil.example/"

    errors, _ = found(document)

    assert "the app writes this URL" in errors["steps.greeting.actions[1].collect.url"]


def test_a_branch_to_a_step_that_does_not_exist_is_an_error():
    document = main_line()
    document["steps"]["greeting"]["next"]["1"] = "recrod"

    errors, _ = found(document)

    assert errors["steps.greeting.next.1"] == "there is no step named 'recrod'"


def test_a_collect_with_no_branch_for_no_input_is_an_error():
    document = main_line()
    del document["steps"]["greeting"]["next"]["no_input"]

    errors, _ = found(document)

    assert "no_input" in errors["steps.greeting.next"]


def test_a_redirect_needs_its_next_step():
    document = main_line()
    document["steps"]["goodbye"]["actions"] = [{"redirect": {}}]

    errors, _ = found(document)

    assert errors["steps.goodbye.next.redirect"] == "a redirect needs the step it goes to"


def test_a_step_unreachable_from_the_first_is_an_error():
    document = main_line()
    document["steps"]["orphan"] = {"actions": [{"hangup": {}}]}

    errors, _ = found(document)

    assert errors["steps.orphan"].startswith("unreachable")


def test_a_missing_first_step_is_an_error():
    errors, _ = found(main_line(first_step="welcome"))

    assert errors == {"first_step": "there is no step named 'welcome'"}


def test_a_loop_with_no_way_out_is_an_error():
    document = main_line()
    document["steps"]["greeting"]["next"] = {"no_input": "greeting", "other": "greeting"}
    for name in ("greeting_again", "record", "no_recording", "goodbye"):
        del document["steps"][name]

    errors, _ = found(document)

    assert "a loop with no way out" in errors["steps.greeting"]
    assert "greeting → greeting" in errors["steps.greeting"]


def test_a_loop_the_caller_can_leave_is_fine():
    document = main_line()
    document["steps"]["greeting_again"]["next"]["no_input"] = "greeting"

    assert found(document)[0] == {}


def test_recording_reachable_before_consent_is_an_error_in_a_consent_flow():
    document = main_line()
    document["steps"]["greeting"]["actions"].insert(0, {"start_recording": {}})

    errors, _ = found(document)

    message = errors["steps.greeting.actions[0].start_recording"]
    assert "before the caller consents" in message


def test_recording_after_a_path_around_consent_is_an_error():
    document = main_line()
    document["steps"]["no_recording"]["actions"] = [{"start_recording": {}}, {"hangup": {}}]
    del document["steps"]["no_recording"]["consent"]

    errors, _ = found(document)

    assert "greeting → no_recording" in errors["steps.no_recording.actions[0].start_recording"]


def test_recording_before_consent_is_allowed_when_the_flow_needs_none():
    document = main_line(requires_consent=False)
    document["steps"]["greeting"]["actions"].insert(0, {"start_recording": {}})

    assert found(document)[0] == {}


def test_actions_after_hangup_are_a_warning():
    document = main_line()
    document["steps"]["goodbye"]["actions"].append({"say": {"text": "Never heard."}})

    errors, warnings = found(document)

    assert errors == {}
    assert warnings["steps.goodbye.actions[2]"] == (
        'never runs: it comes after "hangup" at actions[1]'
    )


def test_stop_recording_with_nothing_started_is_a_warning():
    document = main_line()
    document["steps"]["goodbye"]["actions"].insert(0, {"stop_recording": {}})

    _, warnings = found(document)

    assert "no start_recording before it" in warnings["steps.goodbye.actions[0].stop_recording"]


def test_a_step_that_ends_without_hanging_up_is_a_warning():
    document = main_line()
    document["steps"]["goodbye"]["actions"] = [{"say": {"text": "Goodbye."}}]

    _, warnings = found(document)

    assert warnings["steps.goodbye"].startswith("ends with say")


def test_a_card_number_collected_while_recording_is_a_warning():
    document = main_line()
    document["steps"]["record"]["actions"] = [
        {"start_recording": {}},
        {"collect": {"max_digits": 16}},
    ]
    document["steps"]["record"]["next"] = {"no_input": "goodbye", "other": "goodbye"}

    _, warnings = found(document)

    assert warnings["steps.record.actions[1].collect"] == (
        "card numbers would be kept in the recording: stop_recording before this step"
    )


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"numbers": ["5550199"]}, "numbers[0]"),
        ({"default": "yes"}, "default"),
        ({"steps": {}}, "steps"),
        ({"name": ""}, "name"),
        ({"frist_step": "greeting"}, "frist_step"),
    ],
    ids=["number-not-e164", "default-not-bool", "no-steps", "no-name", "unknown-key"],
)
def test_a_document_of_the_wrong_shape_is_refused_with_the_path(change, path):
    with pytest.raises(DocumentError) as refused:
        read_document(main_line(**change))

    assert path in [problem.path for problem in refused.value.problems]
