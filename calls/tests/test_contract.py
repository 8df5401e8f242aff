"""Reading answer_url requests (calls.contract.parse_answer_request); no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from calls.contract import CALL_ID_MAX_LENGTH, MalformedRequest, parse_answer_request

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def parse(*, query: str = "", body: object = b"", content_type: str = JSON):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_answer_request(query=query, body=raw, content_type=content_type)


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
