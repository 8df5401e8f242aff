"""Tests for the MiniVoice action schema (calls.protocol.actions); plain pytest, no database."""

from __future__ import annotations

import pytest

from calls.protocol.actions import (
    ACTION_NAMES,
    InvalidActions,
    Problem,
    Validation,
    action_name,
    ensure_valid,
    ensure_valid_json,
    validate_payload,
)

# Every action once, with every parameter it takes, in keyed and in typed form.
# hangup comes last so the full payloads carry no warning.
EVERY_ACTION_KEYED: list[dict[str, object]] = [
    {"start_recording": {}},
    {"say": {"text": "Hello", "voice": "alice", "language": "en-GB"}},
    {"play": {"url": "https://example.com/hold.mp3"}},
    {
        "collect": {
            "max_digits": 4,
            "timeout_seconds": 10,
            "finish_on_key": "#",
            "url": "https://example.com/digits",
        }
    },
    {"pause": {"seconds": 2}},
    {"stop_recording": {}},
    {"hangup": {}},
]
EVERY_ACTION_TYPED: list[dict[str, object]] = [
    {"type": "start_recording"},
    {"type": "say", "text": "Hello", "voice": "alice", "language": "en-GB"},
    {"type": "play", "url": "https://example.com/hold.mp3"},
    {
        "type": "collect",
        "max_digits": 4,
        "timeout_seconds": 10,
        "finish_on_key": "#",
        "url": "https://example.com/digits",
    },
    {"type": "pause", "seconds": 2},
    {"type": "stop_recording"},
    {"type": "hangup"},
]


def errors_of(payload: object) -> list[str]:
    """The errors of a payload as "path: message" strings, for compact assertions."""
    return [str(problem) for problem in validate_payload(payload).errors]


def keyed(name: str, **params: object) -> dict[str, object]:
    """A one-action payload in keyed form."""
    return {"actions": [{name: params}]}


def typed(name: str, **params: object) -> dict[str, object]:
    """A one-action payload in typed form."""
    return {"actions": [{"type": name, **params}]}


# --- Valid payloads ----------------------------------------------------------------------


def test_seed_payload_is_valid() -> None:
    validation = validate_payload({"actions": [{"start_recording": {}}]})
    assert validation == Validation(errors=(), warnings=())
    assert validation.is_valid


def test_seed_payload_in_typed_form_is_valid() -> None:
    assert validate_payload({"actions": [{"type": "start_recording"}]}).is_valid


@pytest.mark.parametrize("actions", [EVERY_ACTION_KEYED, EVERY_ACTION_TYPED])
def test_every_action_with_every_parameter_is_valid(actions: list[dict[str, object]]) -> None:
    assert validate_payload({"actions": actions}) == Validation(errors=(), warnings=())


def test_both_forms_may_be_mixed_in_one_payload() -> None:
    assert validate_payload({"actions": [EVERY_ACTION_KEYED[1], EVERY_ACTION_TYPED[2]]}).is_valid


@pytest.mark.parametrize(
    "payload",
    [
        keyed("redirect", url="http://example.com/next"),
        typed("redirect", url="http://example.com/next"),
        keyed("transfer", to="+15550100", timeout_seconds=30),
        typed("transfer", to="sip:alice@example.com", timeout_seconds=600),
        keyed("transfer", to="+12"),
        keyed("transfer", to="+123456789012345"),
        keyed("collect"),
        keyed("pause"),
        keyed("say", text="  hi  "),
        keyed("play", url="https://example.com:8443/a.mp3?x=1"),
    ],
)
def test_other_valid_actions_are_accepted(payload: dict[str, object]) -> None:
    assert errors_of(payload) == []


@pytest.mark.parametrize("key", list("0123456789*#"))
def test_every_keypad_key_may_finish_collect(key: str) -> None:
    assert errors_of(keyed("collect", finish_on_key=key)) == []


# --- Parameter errors --------------------------------------------------------------------


def test_say_without_text_is_reported_with_its_path() -> None:
    assert errors_of({"actions": [{"hangup": {}}, {"say": {}}]}) == [
        "actions[1].say.text: this field is required"
    ]


def test_say_without_text_in_typed_form_is_reported_without_the_action_name() -> None:
    assert errors_of(typed("say")) == ["actions[0].text: this field is required"]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (keyed("play"), "actions[0].play.url: this field is required"),
        (typed("play"), "actions[0].url: this field is required"),
        (keyed("redirect"), "actions[0].redirect.url: this field is required"),
        (typed("redirect"), "actions[0].url: this field is required"),
        (keyed("transfer"), "actions[0].transfer.to: this field is required"),
        (typed("transfer"), "actions[0].to: this field is required"),
    ],
)
def test_missing_required_parameter_is_reported(payload: object, expected: str) -> None:
    assert errors_of(payload) == [expected]


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None, 5, ["hi"]])
def test_say_text_must_be_a_non_empty_string(text: object) -> None:
    assert errors_of(keyed("say", text=text)) == ["actions[0].say.text: must be a non-empty string"]


@pytest.mark.parametrize("field", ["voice", "language"])
@pytest.mark.parametrize("value", [None, 1, True, {}])
def test_say_voice_and_language_must_be_strings(field: str, value: object) -> None:
    assert errors_of(typed("say", text="hi", **{field: value})) == [
        f"actions[0].{field}: must be a string"
    ]


WHOLE_NUMBER_FIELDS = pytest.mark.parametrize(
    ("name", "field", "low", "high"),
    [
        ("collect", "max_digits", 1, 32),
        ("collect", "timeout_seconds", 1, 60),
        ("transfer", "timeout_seconds", 1, 600),
        ("pause", "seconds", 1, 60),
    ],
)


def whole_number_payload(name: str, field: str, value: object) -> dict[str, object]:
    """A keyed payload setting one whole-number field (transfer also needs its "to")."""
    params: dict[str, object] = {field: value}
    if name == "transfer":
        params["to"] = "+15550100"
    return keyed(name, **params)


@WHOLE_NUMBER_FIELDS
def test_whole_number_bounds_are_inclusive(name: str, field: str, low: int, high: int) -> None:
    assert errors_of(whole_number_payload(name, field, low)) == []
    assert errors_of(whole_number_payload(name, field, high)) == []


@WHOLE_NUMBER_FIELDS
def test_whole_numbers_out_of_range_are_reported(
    name: str, field: str, low: int, high: int
) -> None:
    expected = [f"actions[0].{name}.{field}: must be a whole number from {low} to {high}"]
    for value in (low - 1, high + 1, 0, -1):
        assert errors_of(whole_number_payload(name, field, value)) == expected


@WHOLE_NUMBER_FIELDS
@pytest.mark.parametrize("value", [True, False, 5.0, 2.5, "5", None, [5]])
def test_whole_numbers_reject_bools_floats_and_other_types(
    name: str, field: str, low: int, high: int, value: object
) -> None:
    assert errors_of(whole_number_payload(name, field, value)) == [
        f"actions[0].{name}.{field}: must be a whole number from {low} to {high}"
    ]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.mp3",
        "javascript:alert(1)",
        "/relative/path.mp3",
        "relative.mp3",
        "example.com/a.mp3",
        "https://",
        "http:///path-without-host",
        "https://exa mple.com/a.mp3",
        "https://example.com:notaport/",
        "",
        None,
        42,
    ],
)
@pytest.mark.parametrize("name", ["play", "redirect", "collect"])
def test_urls_must_be_absolute_http_or_https(name: str, url: object) -> None:
    assert errors_of(typed(name, url=url)) == [
        "actions[0].url: must be an absolute http or https URL"
    ]


@pytest.mark.parametrize("key", ["12", "", "A", " ", "##", 1, None])
def test_collect_finish_on_key_must_be_one_keypad_key(key: object) -> None:
    assert errors_of(keyed("collect", finish_on_key=key)) == [
        "actions[0].collect.finish_on_key: must be one of 0-9, *, #"
    ]


@pytest.mark.parametrize(
    "to",
    [
        "15550100",
        "+",
        "+1",
        "+0123456",
        "+1234567890123456",
        "+1 555 0100",
        "+1555abc",
        "sip:",
        "sip: alice@example.com",
        "tel:+15550100",
        "",
        15550100,
        None,
    ],
)
def test_transfer_destination_must_be_e164_or_sip(to: object) -> None:
    assert errors_of(keyed("transfer", to=to)) == [
        "actions[0].transfer.to: must be an E.164 number (+15550100) or a sip: URI"
    ]


def test_unknown_parameter_is_reported_in_keyed_form() -> None:
    assert errors_of(keyed("say", text="hi", colour="red")) == [
        "actions[0].say.colour: unknown parameter"
    ]


def test_unknown_parameter_is_reported_in_typed_form() -> None:
    assert errors_of(typed("say", text="hi", colour="red")) == [
        "actions[0].colour: unknown parameter"
    ]


@pytest.mark.parametrize("name", ["start_recording", "stop_recording", "hangup"])
def test_actions_without_parameters_reject_any_parameter(name: str) -> None:
    assert errors_of(keyed(name, now=True)) == [f"actions[0].{name}.now: unknown parameter"]


# --- Action shape errors -----------------------------------------------------------------


def test_unknown_action_is_reported_in_keyed_form() -> None:
    assert errors_of({"actions": [{"foo": {}}]}) == ['actions[0]: unknown action "foo"']


def test_unknown_action_is_reported_in_typed_form() -> None:
    assert errors_of({"actions": [{"type": "foo"}]}) == ['actions[0].type: unknown action "foo"']


@pytest.mark.parametrize("type_value", [None, 3, ["say"], {"say": {}}])
def test_typed_action_type_must_be_a_string(type_value: object) -> None:
    assert errors_of({"actions": [{"type": type_value}]}) == [
        "actions[0].type: must be a string naming the action"
    ]


def test_keyed_action_with_two_keys_is_reported() -> None:
    assert errors_of({"actions": [{"say": {"text": "hi"}, "hangup": {}}]}) == [
        'actions[0]: must have exactly one key, the action name (or a "type" field)'
    ]


def test_empty_object_action_is_reported() -> None:
    assert errors_of({"actions": [{}]}) == [
        'actions[0]: must have exactly one key, the action name (or a "type" field)'
    ]


@pytest.mark.parametrize("params", [None, "hi", [], ["text"], 1])
def test_keyed_action_parameters_must_be_an_object(params: object) -> None:
    assert errors_of({"actions": [{"say": params}]}) == [
        "actions[0].say: must be an object of parameters"
    ]


@pytest.mark.parametrize("action", ["hangup", None, 1, ["hangup"], True])
def test_action_that_is_not_an_object_is_reported(action: object) -> None:
    assert errors_of({"actions": [action]}) == ["actions[0]: must be an object"]


# --- Payload errors ----------------------------------------------------------------------


@pytest.mark.parametrize("actions", [None, {"start_recording": {}}, "hangup", 1])
def test_actions_that_is_not_a_list_is_reported(actions: object) -> None:
    assert errors_of({"actions": actions}) == ["actions: must be an array of actions"]


def test_empty_actions_is_reported() -> None:
    assert errors_of({"actions": []}) == ["actions: must contain at least one action"]


def test_missing_actions_is_reported() -> None:
    assert errors_of({}) == ["actions: this field is required"]


@pytest.mark.parametrize("payload", [None, [], [{"hangup": {}}], "actions", 1])
def test_payload_that_is_not_an_object_is_reported(payload: object) -> None:
    assert errors_of(payload) == ['<payload>: must be an object with an "actions" array']


def test_extra_top_level_key_is_reported_and_actions_still_checked() -> None:
    payload = {"actions": [{"say": {}}], "extra": 1}
    assert errors_of(payload) == [
        "extra: unknown field",
        "actions[0].say.text: this field is required",
    ]


def test_every_problem_is_reported_not_just_the_first() -> None:
    payload = {
        "actions": [
            {"say": {"colour": "red"}},
            {"type": "play", "url": "ftp://example.com/a.mp3"},
            {"collect": {"max_digits": True, "finish_on_key": "12"}},
            "hangup",
            {"type": "nope"},
            {"transfer": {"to": "555", "timeout_seconds": 601}},
        ],
        "version": 2,
    }
    assert errors_of(payload) == [
        "version: unknown field",
        "actions[0].say.colour: unknown parameter",
        "actions[0].say.text: this field is required",
        "actions[1].url: must be an absolute http or https URL",
        "actions[2].collect.max_digits: must be a whole number from 1 to 32",
        "actions[2].collect.finish_on_key: must be one of 0-9, *, #",
        "actions[3]: must be an object",
        'actions[4].type: unknown action "nope"',
        "actions[5].transfer.to: must be an E.164 number (+15550100) or a sip: URI",
        "actions[5].transfer.timeout_seconds: must be a whole number from 1 to 600",
    ]


# --- Warnings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stopper",
    [
        {"hangup": {}},
        {"type": "hangup"},
        {"redirect": {"url": "https://example.com/next"}},
        {"type": "transfer", "to": "+15550100"},
    ],
)
def test_action_after_a_call_ending_action_is_warned_about(stopper: dict[str, object]) -> None:
    name = action_name(stopper)
    payload = {"actions": [{"start_recording": {}}, stopper, {"say": {"text": "bye"}}]}
    validation = validate_payload(payload)
    assert validation.errors == ()
    assert [str(warning) for warning in validation.warnings] == [
        f'actions[2]: never runs: it comes after "{name}" at actions[1]'
    ]
    assert validation.is_valid


def test_only_the_first_unreachable_action_is_warned_about() -> None:
    payload = {"actions": [{"hangup": {}}, {"pause": {}}, {"hangup": {}}, {"say": {"text": "x"}}]}
    assert validate_payload(payload).warnings == (
        Problem("actions[1]", 'never runs: it comes after "hangup" at actions[0]'),
    )


def test_warning_skips_actions_whose_name_is_unknown() -> None:
    payload = {"actions": [{"hangup": {}}, "junk", {"foo": {}}, {"type": "pause"}]}
    validation = validate_payload(payload)
    assert not validation.is_valid
    assert [str(warning) for warning in validation.warnings] == [
        'actions[3]: never runs: it comes after "hangup" at actions[0]'
    ]


def test_call_ending_action_at_the_end_gives_no_warning() -> None:
    assert validate_payload({"actions": [{"say": {"text": "bye"}}, {"hangup": {}}]}).warnings == ()


# --- ensure_valid, action_name, ACTION_NAMES ---------------------------------------------


def test_ensure_valid_returns_the_validation_of_a_valid_payload() -> None:
    payload = {"actions": [{"hangup": {}}, {"pause": {}}]}
    validation = ensure_valid(payload)
    assert validation == validate_payload(payload)
    assert len(validation.warnings) == 1


def test_ensure_valid_raises_with_every_problem_in_the_message() -> None:
    with pytest.raises(InvalidActions) as raised:
        ensure_valid({"actions": [{"say": {}}, {"type": "play", "url": "/x"}]})
    assert raised.value.errors == (
        Problem("actions[0].say.text", "this field is required"),
        Problem("actions[1].url", "must be an absolute http or https URL"),
    )
    assert str(raised.value) == (
        "actions[0].say.text: this field is required; "
        "actions[1].url: must be an absolute http or https URL"
    )
    assert isinstance(raised.value, ValueError)


def test_ensure_valid_json_checks_the_text_once_and_remembers_the_answer() -> None:
    text = '{"actions": [{"say": {"text": "Remembered"}}, {"hangup": {}}]}'
    ensure_valid_json.cache_clear()

    first = ensure_valid_json(text)
    again = ensure_valid_json(text)

    assert first == validate_payload({"actions": [{"say": {"text": "Remembered"}}, {"hangup": {}}]})
    assert again is first
    assert ensure_valid_json.cache_info().hits == 1


def test_ensure_valid_json_raises_for_an_invalid_text_every_time() -> None:
    text = '{"actions": [{"say": {}}]}'
    for _ in range(2):
        with pytest.raises(InvalidActions):
            ensure_valid_json(text)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ({"say": {"text": "hi"}}, "say"),
        ({"type": "say", "text": "hi"}, "say"),
        ({"hangup": None}, "hangup"),
        ({"foo": {}}, "foo"),
        ({"type": "foo"}, "foo"),
        ({}, None),
        ({"say": {}, "hangup": {}}, None),
        ({"type": 3}, None),
        ({1: {}}, None),
        ("say", None),
        (None, None),
        (["say"], None),
    ],
)
def test_action_name_reads_either_form_and_gives_none_for_junk(
    action: object, expected: str | None
) -> None:
    assert action_name(action) == expected  # type: ignore[arg-type]


def test_action_names_lists_every_known_action() -> None:
    assert sorted(ACTION_NAMES) == [
        "collect",
        "hangup",
        "pause",
        "play",
        "redirect",
        "say",
        "start_recording",
        "stop_recording",
        "transfer",
    ]


def test_problem_prints_as_path_and_message() -> None:
    assert str(Problem("actions[2].say.text", "this field is required")) == (
        "actions[2].say.text: this field is required"
    )
