"""Any input in, never an unexpected exception out: hypothesis against the code that reads
what others write (MiniVoice's requests and events, flow documents, step tokens, action
payloads). Each function may refuse only with its documented error.

Bounded (max_examples, no deadline, no example database) so that the file runs in
seconds; pure functions, no database.
"""

from __future__ import annotations

import json
import re
import string

import jsonschema
from django.core import signing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calls.flows import tokens
from calls.flows.checks import Checked, check_flow, recording_at_entry
from calls.flows.document import DocumentError, FlowDocument, read_document
from calls.intake.schema import CALL_ID as CALL_ID_SCHEMA
from calls.intake.schema import ActionPayload
from calls.protocol import actions, contract

bounded = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- What JSON can be, and what a hostile sender writes -------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", " ", "\x00", "\ud800", "+15550100", "sip:a@b", "http://x", "1"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
# Python values a caller could pass that JSON never makes: NaN, infinities, tuples,
# non-string keys.
python_values = st.recursive(
    scalars | st.floats() | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children)
        | st.dictionaries(st.text(max_size=8) | st.integers(), children, max_size=4)
    ),
    max_leaves=20,
)

# Parameter values that pass each rule, and values near them that do not.
_valid_values = {
    actions.NonEmptyText: st.text(min_size=1).filter(str.strip),
    actions.Text: st.text(),
    actions.HttpUrl: st.sampled_from(
        ["https://example.com/a.wav", "http://127.0.0.1:8000/minivoice/answer/?step=x"]
    ),
    actions.Destination: st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True)
    | st.just("sip:desk@example.com"),
}


def _valid_value(rule: actions.Rule):
    if isinstance(rule, actions.WholeNumber):
        return st.integers(rule.low, rule.high)
    if isinstance(rule, actions.OneOf):
        return st.sampled_from(sorted(rule.choices))
    return _valid_values[type(rule)]


@st.composite
def action_like(draw) -> object:
    """An action, valid or nearly so: a known or unknown name, in either form, with
    parameters valid, missing, unknown or of the wrong kind."""
    name = draw(st.sampled_from([*actions.ACTION_SPECS, "dance", "type"]))
    spec = actions.ACTION_SPECS.get(name, {})
    params = {}
    for key, rule in spec.items():
        choice = draw(st.sampled_from(["valid", "valid", "missing", "hostile"]))
        if choice == "valid":
            params[key] = draw(_valid_value(rule))
        elif choice == "hostile":
            params[key] = draw(json_values)
    if draw(st.booleans()):
        params[draw(st.text(max_size=6))] = draw(json_values)
    if draw(st.booleans()):
        return {"type": name, **params}
    return {name: params if draw(st.integers(0, 9)) else draw(json_values)}


@st.composite
def valid_action(draw) -> dict:
    """An action every rule accepts, in either form, optional parameters or not."""
    name = draw(st.sampled_from(sorted(actions.ACTION_SPECS)))
    params = {
        key: draw(_valid_value(rule))
        for key, rule in actions.ACTION_SPECS[name].items()
        if rule.required or draw(st.booleans())
    }
    return {"type": name, **params} if draw(st.booleans()) else {name: params}


payloads = st.one_of(
    st.fixed_dictionaries({"actions": st.lists(valid_action(), min_size=1, max_size=5)}),
    st.fixed_dictionaries({"actions": st.lists(action_like(), max_size=5)}),
    st.fixed_dictionaries(
        {"actions": st.lists(action_like() | json_values, max_size=4)},
        optional={"extra": json_values},
    ),
    json_values,
    python_values,
)

# -- The action schema (calls.protocol.actions) ----------------------------------------------


@bounded
@given(payloads)
def test_the_action_schema_judges_any_value_without_raising(payload):
    validation = actions.validate_payload(payload)

    assert validation.is_valid == (not validation.errors)
    assert all(isinstance(problem, actions.Problem) for problem in validation.errors)
    try:
        actions.ensure_valid(payload)
    except actions.InvalidActions as refused:
        assert refused.errors == validation.errors
    else:
        assert validation.is_valid


@bounded
@given(payloads.filter(lambda p: isinstance(p, dict)))
def test_a_payload_the_code_accepts_is_one_the_published_schema_accepts(payload):
    """What the app sends MiniVoice is checked by actions.py; the OpenAPI document says
    the same shape: it never calls an answer invalid that the code let through."""
    try:
        text = json.dumps(payload)
    except (TypeError, ValueError):
        return  # not JSON at all: nothing MiniVoice could receive
    if actions.validate_payload(json.loads(text)).is_valid:
        jsonschema.validate(json.loads(text), ActionPayload.json_schema)


@bounded
@given(python_values)
def test_an_actions_name_is_read_from_any_value(value):
    name = actions.action_name(value) if isinstance(value, dict) else None
    assert name is None or isinstance(name, str)


# -- The flow document and its checks (calls.flows.document, calls.flows.checks) -----------

STEP_NAMES = ["greeting", "record", "goodbye", "menu"]
NEXT_KEYS = ["1", "2", "*", "12", "no_input", "other", "redirect"]


def mostly(good: list, bad: list):
    """One of `good`, now and then one of `bad`: documents that are read, and some not."""
    return st.sampled_from(good * 8 + bad)


@st.composite
def flow_like(draw) -> dict:
    """A flow document, valid or nearly so, with branches to steps that may not exist,
    loops, consent marks and recording actions, the things the checks reason about."""
    names = draw(st.lists(st.sampled_from(STEP_NAMES), min_size=1, max_size=4, unique=True))
    flow_actions = st.lists(
        st.sampled_from(
            [
                {"start_recording": {}},
                {"stop_recording": {}},
                {"say": {"text": "Hello."}},
                {"collect": {"max_digits": 16}},
                {"type": "collect", "max_digits": 1},
                {"collect": {"url": "https://x.example/"}},
                {"redirect": {}},
                {"transfer": {"to": "+15550100"}},
                {"hangup": {}},
            ]
        )
        | action_like(),
        max_size=4,
    )
    steps = {
        name: draw(
            st.fixed_dictionaries(
                {"actions": flow_actions},
                optional={
                    "next": st.dictionaries(
                        mostly(NEXT_KEYS, ["abc", ""]),
                        mostly(STEP_NAMES, ["nowhere", "", "x" * 65]),
                        max_size=4,
                    ),
                    "consent": mostly(["given", "declined"], ["maybe", 1]),
                },
            )
        )
        for name in names
    }
    document = {
        "name": "Main line",
        "first_step": draw(mostly(names, ["nowhere"])),
        "steps": steps,
        "requires_consent": draw(st.booleans()),
        "numbers": draw(st.lists(mostly(["+15550199", "+442071838750"], ["555"]), max_size=2)),
    }
    if draw(st.integers(0, 9)) == 0:
        document[draw(st.sampled_from(["name", "steps", "default", "surprise"]))] = draw(
            json_values
        )
    return document


@bounded
@given(flow_like() | json_values | python_values)
def test_any_flow_document_is_read_and_checked_without_raising(data):
    try:
        document = read_document(data)
    except DocumentError as refused:
        assert refused.problems
        return
    assert isinstance(document, FlowDocument)
    checked = check_flow(document)
    assert isinstance(checked, Checked)
    assert checked.can_publish == (not checked.errors)
    if document.first_step in document.steps:
        assert set(recording_at_entry(document)) <= set(document.steps)


# -- MiniVoice's requests and events (calls.protocol.contract) -----------------------------

json_bodies = json_values.map(lambda value: json.dumps(value).encode()) | st.builds(
    lambda value, encoding: json.dumps(value, ensure_ascii=False).encode(encoding, "surrogatepass"),
    json_values,
    st.sampled_from(["utf-8", "utf-16", "utf-32"]),
)
answer_bodies = (
    json_bodies
    | st.binary(max_size=64)
    | st.builds(
        lambda call, variables, extra: json.dumps(
            {"call": call, "variables": variables, **extra}
        ).encode(),
        st.fixed_dictionaries({}, optional={"id": json_values, "from": json_values}),
        json_values,
        st.dictionaries(st.sampled_from(["call_id", "event", "created_at"]), json_values),
    )
    | st.builds(
        lambda call_id, variables: json.dumps(
            {"call": {"id": call_id}, "variables": variables}
        ).encode(),
        st.text(max_size=140),
        st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    )
    | st.integers(30, 40).map(lambda depth: b"[" * depth + b"]" * depth)
    | st.sampled_from([b"NaN", b'{"a": Infinity}', b'{"a": 1e999}', b"1" * 5000])
)
form_bodies = st.lists(
    st.tuples(st.sampled_from(["call_id", "from", "event", "digits", "x"]), st.text(max_size=10)),
    max_size=4,
).map(lambda pairs: "&".join(f"{key}={value}" for key, value in pairs).encode("utf-8", "replace"))
queries = st.text(alphabet=string.printable + "é\x00", max_size=40) | st.just(
    "call_id=call_1&step=abc&digits=1"
)


@bounded
@given(
    method=st.sampled_from(["GET", "POST", "PUT", ""]),
    query=queries,
    body=answer_bodies | form_bodies,
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
    ),
    signed=st.booleans(),
)
def test_any_answer_url_request_is_read_or_refused_with_a_code(
    method, query, body, content_type, signed
):
    try:
        answer = contract.parse_answer_request(
            method=method, query=query, body=body, content_type=content_type, signed=signed
        )
    except contract.MalformedRequest as refused:
        assert refused.code and refused.status in {400, 405, 409, 415}
        return
    assert 0 < len(answer.call_id) <= contract.CALL_ID_MAX_LENGTH
    assert not any(ord(char) < 0x20 for char in answer.call_id)
    assert isinstance(answer.variables, dict)
    json.dumps(answer.variables)  # storable as JSON


@bounded
@given(
    st.text(max_size=contract.CALL_ID_MAX_LENGTH + 2)
    | st.builds(
        "{}{}{}".format,
        st.sampled_from(["", " ", "\x85", "\u3000", "\x1f", "\ufeff"]),
        st.text(min_size=1, max_size=8),
        st.sampled_from(["", "\t", "\xa0", "\x00", "\u2028"]),
    )
)
def test_the_published_call_id_pattern_is_the_call_ids_the_code_takes_as_sent(call_id):
    """The document's call id (CALL_ID) says exactly which ids are read unchanged."""
    schema = CALL_ID_SCHEMA
    documented = bool(re.fullmatch(schema["pattern"], call_id)) and (
        schema["minLength"] <= len(call_id) <= schema["maxLength"]
    )
    try:
        answer = contract.parse_answer_request(
            method="POST",
            query="",
            body=json.dumps({"call_id": call_id}).encode(),
            content_type="application/json",
            signed=True,
        )
    except contract.MalformedRequest:
        taken_as_sent = False
    else:
        taken_as_sent = answer.call_id == call_id
    assert documented == taken_as_sent


@bounded
@given(answer_bodies)
def test_any_body_is_a_json_object_or_malformed_json(body):
    try:
        payload = contract.parse_json_object(body)
    except contract.MalformedRequest as refused:
        assert refused.code == "malformed_json"
        return
    assert isinstance(payload, dict)
    assert "\x00" not in json.dumps(payload, ensure_ascii=False)


@bounded
@given(json_values | python_values)
def test_any_event_payload_gives_its_facts_without_raising(payload):
    facts = contract.read_event_facts(payload if isinstance(payload, dict) else {"x": payload})

    assert len(facts.event_type) <= 64
    assert len(facts.call_id) <= contract.CALL_ID_MAX_LENGTH
    assert not (facts.call_id and facts.call_id_problem)
    if facts.occurred_at is not None:
        assert facts.occurred_at.utcoffset().total_seconds() == 0


@bounded
@given(python_values)
def test_the_readers_of_single_fields_take_any_value(value):
    number = contract.whole_number(value)
    assert number is None or 0 <= number <= 2**31 - 1
    contract.parse_timestamp(value)
    contract.text(value)
    contract.storable(value)
    contract.pressed({contract.DIGITS_VARIABLE: value})
    contract.event_data({"data": value})
    contract.event_call({"call": value})


@bounded
@given(st.text(max_size=40) | st.from_regex(r"[0-9T:\-+.Z ]{10,32}", fullmatch=True))
def test_any_created_at_is_a_moment_in_utc_or_none(value):
    moment = contract.parse_timestamp(value)
    assert moment is None or moment.utcoffset().total_seconds() == 0


# -- Step tokens (calls.flows.tokens) -------------------------------------------------------

call_ids = st.text(min_size=1, max_size=contract.CALL_ID_MAX_LENGTH)


@bounded
@given(signed=st.text(max_size=120) | queries, call_id=call_ids)
def test_any_text_as_a_step_token_is_refused_with_the_reason(signed, call_id):
    try:
        tokens.read_token(signed, call_id=call_id)
    except tokens.BadToken as refused:
        assert str(refused)
    else:
        raise AssertionError("a token nobody signed was taken")


# Python's json writes float("inf") as Infinity and reads it back: a shape JSON allows.
token_members = scalars | st.floats() | st.sampled_from([10**400, True, 1.5, [1], {"a": 1}])


@bounded
@given(
    values=st.tuples(token_members, token_members, token_members, token_members).map(list)
    | st.lists(token_members, max_size=5)
    | python_values,
    call_id=call_ids,
)
def test_a_token_we_signed_in_another_shape_is_refused_not_a_crash(values, call_id):
    """Signed with our key, but not as step_url writes it (another version's shape)."""
    try:
        signed = signing.dumps(values, salt=tokens.SALT, compress=False)
    except (TypeError, ValueError):
        return  # not serialisable: nothing could have been signed
    try:
        token = tokens.read_token(signed, call_id=call_id)
    except tokens.BadToken:
        return
    assert [token.call_id, token.flow_id, token.version, token.step] == values
    assert token.call_id == call_id
    assert type(token.flow_id) is int and type(token.version) is int


@bounded
@given(
    call_id=call_ids,
    flow_id=st.integers(0, 2**63 - 1),
    version=st.integers(0, 2**31 - 1),
    step=st.text(max_size=64),
    other_call=call_ids,
)
def test_a_step_url_carries_its_token_back_for_its_own_call_only(
    call_id, flow_id, version, step, other_call
):
    token = tokens.StepToken(call_id, flow_id, version, step)
    url = tokens.step_url("https://app.example/minivoice/answer/", token)
    signed = contract.step_token(url.partition("?")[2])

    assert tokens.read_token(signed, call_id=call_id) == token
    if other_call != call_id:
        try:
            tokens.read_token(signed, call_id=other_call)
        except tokens.BadToken:
            pass
        else:
            raise AssertionError("a token was taken for another call")
