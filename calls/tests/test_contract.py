"""Reading what MiniVoice sends (calls.protocol.contract): answer_url requests, JSON bodies, text
and timestamps. Pure parsing; no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from calls.protocol.contract import (
    CALL_ID_MAX_LENGTH,
    MAX_JSON_DEPTH,
    MalformedRequest,
    parse_answer_request,
    parse_json_object,
    parse_timestamp,
    storable,
    text,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def parse(*, query: str = "", body: object = b"", content_type: str = JSON):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_answer_request(
        method="POST", query=query, body=raw, content_type=content_type, signed=False
    )


def test_contract_example_is_read_whole():
    answer = parse(
        body={
            "call": {
                "id": "call_123",
                "status": "in_progress",
                "direction": "inbound",
                "from": "+15550100",
                "to": "+15550199",
            },
            "variables": {"digits": "1", "menu": {"choice": 2}},
            "created_at": "2026-05-29T12:00:00Z",
        }
    )

    assert answer.call_id == "call_123"
    assert answer.status == "in_progress"
    assert (answer.direction, answer.from_number, answer.to_number) == (
        "inbound",
        "+15550100",
        "+15550199",
    )
    assert answer.variables == {"digits": "1", "menu": {"choice": 2}}
    assert answer.created_at == datetime(2026, 5, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "body", "content_type"),
    [
        ("call_id=call_1&from=%2B1555&digits=1", b"", ""),
        ("", b"call_id=call_1&from=%2B1555&digits=1", FORM),
        ("", b'{"call_id": "call_1", "from": "+1555", "digits": "1"}', JSON),
    ],
    ids=["query", "form", "flat-json"],
)
def test_flat_parameters_name_the_call_and_the_rest_are_variables(query, body, content_type):
    answer = parse(query=query, body=body, content_type=content_type)

    assert (answer.call_id, answer.from_number) == ("call_1", "+1555")
    assert answer.variables == {"digits": "1"}


def test_query_parameters_fill_in_what_the_body_leaves_out():
    answer = parse(query="call_id=from_query&to=%2B1999", body={"call": {"from": "+1555"}})

    assert (answer.call_id, answer.from_number, answer.to_number) == (
        "from_query",
        "+1555",
        "+1999",
    )


def test_call_id_in_the_call_object_wins_over_a_flat_one():
    assert parse(body={"call": {"id": "nested"}, "call_id": "flat"}).call_id == "nested"


@pytest.mark.parametrize(
    ("value", "call_id"),
    [("  call_1 ", "call_1"), (123, "123"), ("c" * CALL_ID_MAX_LENGTH, "c" * CALL_ID_MAX_LENGTH)],
    ids=["padded", "number", "maximum-length"],
)
def test_usable_call_ids(value, call_id):
    assert parse(body={"call": {"id": value}}).call_id == call_id


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"body": {"call": {"id": ""}, "call_id": None}}, "missing_call_id"),
        ({"body": {"call": {"id": False}}}, "missing_call_id"),
        ({"body": {"call": {"id": {"id": "call_1"}}}}, "missing_call_id"),
        ({"body": b"", "content_type": ""}, "missing_call_id"),
        ({"body": {"call_id": "c" * (CALL_ID_MAX_LENGTH + 1)}}, "invalid_call_id"),
        ({"body": b"{not json"}, "malformed_json"),
        ({"body": b"\xff\xfe"}, "malformed_json"),
        ({"body": [1, 2]}, "malformed_json"),
        ({"body": b"call_id=\xff", "content_type": FORM}, "malformed_body"),
        ({"body": b"call_id=call_1", "content_type": "text/plain"}, "unsupported_media_type"),
        ({"body": b"call_id=call_1", "content_type": ""}, "unsupported_media_type"),
    ],
    ids=[
        "empty-id",
        "boolean-id",
        "object-id",
        "nothing",
        "too-long",
        "bad-json",
        "not-utf8-json",
        "json-array",
        "not-utf8-form",
        "text-plain",
        "no-content-type",
    ],
)
def test_unusable_requests_raise_malformed_request_with_a_code(kwargs, code):
    with pytest.raises(MalformedRequest) as raised:
        parse(**kwargs)

    assert raised.value.code == code
    assert raised.value.message


def test_an_empty_body_is_read_from_the_query_whatever_its_content_type():
    answer = parse(query="call_id=call_1", body=b"  \n", content_type="text/plain")

    assert answer.call_id == "call_1"


@pytest.mark.parametrize(
    "created_at", ["yesterday", "2026-05-29T12:00:00", "2026-13-45T99:00:00Z", 1780000000]
)
def test_unreadable_or_naive_created_at_is_none(created_at):
    assert parse(body={"call_id": "call_1", "created_at": created_at}).created_at is None


# -- Hostile JSON ---------------------------------------------------------------------------


def _nested_arrays(depth: int) -> bytes:
    """An event whose `x` is `depth` arrays inside each other (the event itself is one more)."""
    return b'{"event": "recording.started", "x": ' + b"[" * depth + b"]" * depth + b"}"


def _nested_objects(depth: int) -> bytes:
    return b'{"event": "recording.started", "x": ' + b'{"a": ' * depth + b"{}" + b"}" * depth + b"}"


# Signed bodies that Python's json reads (or crashes on) but that are not JSON we can store:
# the webhook and answer_url tests send each of these too.
HOSTILE_JSON = {
    "nan": b'{"event": "recording.started", "x": NaN}',
    "infinity": b'{"event": "recording.started", "x": Infinity}',
    "minus-infinity": b'{"event": "recording.started", "x": -Infinity}',
    "float-overflow-1e400": b'{"event": "recording.started", "x": 1e400}',
    "arrays-nested-100-deep": _nested_arrays(100),
    "objects-nested-100-deep": _nested_objects(100),
    # Deep enough that json itself raises RecursionError.
    "arrays-nested-5000-deep": _nested_arrays(5000),
    "objects-nested-5000-deep": _nested_objects(5000),
    # Over Python's 4300-digit limit for converting text to int (a ValueError).
    "integer-of-5000-digits": b'{"event": "recording.started", "x": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("body", HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
def test_parse_json_object_refuses_hostile_json_as_malformed(body):
    with pytest.raises(MalformedRequest) as raised:
        parse_json_object(body)

    assert raised.value.code == "malformed_json"
    assert raised.value.status == 400
    assert raised.value.message


def test_parse_json_object_accepts_nesting_up_to_the_limit_and_refuses_one_more():
    # The event object is the first level, so `x` holds MAX_JSON_DEPTH - 1 more.
    at_limit = parse_json_object(_nested_arrays(MAX_JSON_DEPTH - 1))
    assert at_limit["event"] == "recording.started"

    with pytest.raises(MalformedRequest) as raised:
        parse_json_object(_nested_arrays(MAX_JSON_DEPTH))
    assert raised.value.code == "malformed_json"


@pytest.mark.parametrize(
    ("literal", "value"),
    [(b"1e308", 1e308), (b"-1e308", -1e308), (b"1e-400", 0.0), (b"9" * 4300, int("9" * 4300))],
    ids=["large-float", "large-negative-float", "underflow-to-zero", "4300-digit-integer"],
)
def test_parse_json_object_keeps_large_but_finite_numbers(literal, value):
    assert parse_json_object(b'{"x": ' + literal + b"}") == {"x": value}


def test_parse_json_object_makes_escaped_nul_and_lone_surrogates_storable():
    body = rb'{"event": "call.\ud800", "data": {"\udfff": "a\u0000b", "ok": "\ud83d\ude00"}}'

    assert parse_json_object(body) == {
        "event": "call.\ufffd",
        "data": {"\ufffd": "a\ufffdb", "ok": "\U0001f600"},  # a real surrogate pair is kept
    }


@pytest.mark.parametrize(
    "body",
    [
        b'{"event": "call.\xed\xa0\x80"}',  # a lone surrogate's own UTF-8 bytes
        '{"event": "call.\ud800"}'.encode("utf-16-le", "surrogatepass"),
        '{"event": "call.\ud800"}'.encode("utf-32", "surrogatepass"),
    ],
    ids=["surrogate-bytes-in-utf8", "utf-16", "utf-32"],
)
def test_parse_json_object_makes_unescaped_lone_surrogates_storable(body):
    # json.loads lets these through as lone surrogates without any \u escape in the bytes.
    assert parse_json_object(body) == {"event": "call.\ufffd"}


def test_parse_json_object_accepts_many_shallow_objects():
    # More brackets than the depth limit, none nested deeper than two levels.
    body = json.dumps({"items": [{"n": n} for n in range(MAX_JSON_DEPTH * 2)]}).encode()

    assert len(parse_json_object(body)["items"]) == MAX_JSON_DEPTH * 2


# -- storable -------------------------------------------------------------------------------


def test_storable_replaces_nul_and_lone_surrogates_in_keys_and_values_at_any_depth():
    value = {
        "a\x00": ["\ud800", {"\udfff": "x\x00y", "n": 1}],
        "\udbff\udc00": "kept",  # a valid pair, written as two code points by json
        "plain": "Zoë \U0001f600",
        "none": None,
        "flag": True,
        "float": 1.5,
    }

    assert storable(value) == {
        "a\ufffd": ["\ufffd", {"\ufffd": "x\ufffdy", "n": 1}],
        "\ufffd\ufffd": "kept",
        "plain": "Zoë \U0001f600",
        "none": None,
        "flag": True,
        "float": 1.5,
    }


@pytest.mark.parametrize("value", ["\x00", "\ud800", "\udfff", "x\x00\ud800y"])
def test_storable_text_encodes_as_utf8_without_nul(value):
    stored = storable(value)

    assert "\x00" not in stored
    assert stored.encode("utf-8").decode("utf-8") == stored
    assert len(stored) == len(value)  # one U+FFFD per unstorable character, nothing dropped


# -- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "max_length", "expected"),
    [
        ("  call_1  ", None, "call_1"),
        ("  abcdef  ", 3, "abc"),  # stripped, then cut
        ("abc", 3, "abc"),
        ("abc", 0, ""),
        (1234567, 4, "1234"),
        (1.5, None, "1.5"),
        ("x" * 5000, None, "x" * 5000),
        ("x" * 5000, 64, "x" * 64),
        (True, 10, ""),
        (None, 10, ""),
        ({"a": 1}, 10, ""),
        (["a"], 10, ""),
    ],
    ids=[
        "strip",
        "strip-then-cut",
        "exact-length",
        "zero-length",
        "number-cut",
        "float",
        "long-text-whole",
        "long-text-cut",
        "boolean",
        "null",
        "object",
        "list",
    ],
)
def test_text_reads_scalars_and_cuts_to_max_length(value, max_length, expected):
    assert text(value, max_length=max_length) == expected


# -- parse_timestamp --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-29T12:00:12Z", datetime(2026, 5, 29, 12, 0, 12, tzinfo=UTC)),
        ("2026-05-29T14:00:12+02:00", datetime(2026, 5, 29, 12, 0, 12, tzinfo=UTC)),
        ("2026-05-29T00:30:00-05:30", datetime(2026, 5, 29, 6, 0, tzinfo=UTC)),
        ("2026-12-31T23:30:00-01:00", datetime(2027, 1, 1, 0, 30, tzinfo=UTC)),
    ],
    ids=["utc", "plus-two-hours", "minus-five-thirty", "into-the-next-year"],
)
def test_parse_timestamp_converts_to_utc(value, expected):
    parsed = parse_timestamp(value)

    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-23:59",  # in UTC, past the year 9999
        "0001-01-01T00:00:00+23:59",  # in UTC, before the year 1
        "2026-05-29T12:00:00+24:00",
        "2026-05-29T12:00:00",
        "",
        None,
        12.5,
        ["2026-05-29T12:00:00Z"],
    ],
    ids=["overflow", "underflow", "offset-24h", "naive", "empty", "null", "number", "list"],
)
def test_parse_timestamp_is_none_for_overflow_and_unreadable_values(value):
    assert parse_timestamp(value) is None


def test_parse_timestamp_keeps_a_fixed_offset_instant():
    tz = timezone(timedelta(hours=-23, minutes=-59))
    expected = datetime(2026, 5, 29, 12, 0, tzinfo=tz).astimezone(UTC)

    assert parse_timestamp("2026-05-29T12:00:00-23:59") == expected
