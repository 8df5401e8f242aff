"""The answer_url (calls.intake.views.AnswerView): what MiniVoice gets back, and what we keep.

Every test hits the real URL with the real client, then checks the answer and the rows:
the Call it names and the AnswerExchange that logs the request and our exact answer.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.db import OperationalError, connection

from calls import flows
from calls.intake import answers
from calls.models import AnswerExchange, Call, WebhookEvent
from calls.protocol import contract
from calls.protocol.actions import action_name, validate_payload
from calls.tests.test_contract import HOSTILE_JSON
from calls.timeline import call_timeline
from conftest import ANSWER_URL, OTHER_SECRET, WEBHOOK_URL, minivoice_event, signed

CREATED_AT = datetime(2026, 5, 29, 12, 0, tzinfo=UTC)
DEFAULT_ACTION_NAMES = ["start_recording", "say", "stop_recording"]

# CONTRACT.md §1's example request.
CONTRACT_EXAMPLE = {
    "call": {
        "id": "call_123",
        "status": "in_progress",
        "direction": "inbound",
        "from": "+15550100",
        "to": "+15550199",
    },
    "variables": {"digits": "1"},
    "created_at": "2026-05-29T12:00:00Z",
}
CALL_DETAILS = {"call_id": "call_123", "from": "+15550100", "to": "+15550199"}
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def send(client, settings):
    """Send any answer_url request, signed like MiniVoice's unless `sign=False`.

    The signed content is the body (empty for a GET); query parameters are not signed.
    `secret_set=False` sends it to an app with no webhook secret (local development),
    where requests are read liberally: unsigned, GET and query parameters included.
    """

    def send(
        method: str = "POST",
        *,
        body: bytes = b"",
        content_type: str = "application/json",
        query: str = "",
        sign: bool = True,
        secret_set: bool = True,
        headers: dict | None = None,
        **sign_options,
    ):
        if not secret_set:
            settings.MINIVOICE_WEBHOOK_SECRETS = []
            sign = False
        extra = signed(body, **sign_options) if sign else {}
        url = f"{ANSWER_URL}?{query}" if query else ANSWER_URL
        return client.generic(
            method, url, data=body, content_type=content_type, **{**extra, **(headers or {})}
        )

    return send


def _json(value: object) -> dict:
    """Request arguments for a JSON body."""
    return {"body": json.dumps(value).encode()}


def assert_default_flow(response) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    payload = response.json()
    assert [action_name(action) for action in payload["actions"]] == DEFAULT_ACTION_NAMES
    assert validate_payload(payload).is_valid


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def assert_nothing_stored() -> None:
    assert not Call.objects.exists()
    assert not AnswerExchange.objects.exists()


# -- Answering ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_contract_example_answers_the_default_flow_and_records_call_and_exchange(send):
    body = json.dumps(CONTRACT_EXAMPLE).encode()

    response = send(body=body, webhook_id="msg_answer_1")

    assert_default_flow(response)
    call = recorded_call_123()
    assert call.started_at == call.answered_at == call.last_step_at == CREATED_AT
    assert "default" in call.last_step
    assert ", ".join(DEFAULT_ACTION_NAMES) in call.last_step

    exchange = AnswerExchange.objects.get()
    assert exchange.call == call
    assert exchange.method == "POST"
    assert exchange.query_string == ""
    assert exchange.request_body == body.decode()
    assert exchange.request_headers["webhook-id"] == "msg_answer_1"
    assert exchange.request_headers["webhook-timestamp"]
    assert exchange.request_headers["content-type"] == "application/json"
    assert "webhook-signature" not in exchange.request_headers
    assert exchange.variables == {"digits": "1"}
    assert exchange.flow == flows.DEFAULT_FLOW == "default"
    assert exchange.response_status == 200
    assert exchange.response_body.encode() == response.content
    assert exchange.duration_ms >= 0
    assert exchange.occurred_at == CREATED_AT
    assert exchange.error == ""


def recorded_call_123() -> Call:
    """The one call stored, with the details every request shape here names."""
    call = Call.objects.get()
    assert call.minivoice_id == "call_123"
    assert (call.direction, call.from_number, call.to_number) == (
        "inbound",
        "+15550100",
        "+15550199",
    )
    assert call.status == Call.Status.IN_PROGRESS
    return call


GET_PARAMS = {**CALL_DETAILS, "direction": "inbound", "digits": "1"}


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param(
            _json({**CALL_DETAILS, "direction": "inbound", "variables": {"digits": "1"}}),
            id="flat-call_id-json",
        ),
        pytest.param(
            {"method": "GET", "query": urlencode(GET_PARAMS), "secret_set": False},
            id="get-query-with-no-secret-set",
        ),
        pytest.param(
            {"body": urlencode(GET_PARAMS).encode(), "content_type": FORM}, id="form-post"
        ),
    ],
)
@pytest.mark.django_db
def test_other_request_shapes_record_the_call(send, kwargs):
    response = send(**kwargs)

    assert_default_flow(response)
    call = recorded_call_123()
    assert call.answered_at is not None
    assert call.last_step
    exchange = AnswerExchange.objects.get()
    assert exchange.call == call
    assert exchange.method == kwargs.get("method", "POST")
    assert exchange.query_string == kwargs.get("query", "")
    assert exchange.request_body == kwargs.get("body", b"").decode()
    assert exchange.variables == {"digits": "1"}
    assert exchange.flow == "default"
    assert exchange.response_status == 200
    assert exchange.response_body.encode() == response.content
    assert exchange.occurred_at is None  # no created_at was sent


@pytest.mark.django_db
def test_a_later_request_for_the_same_call_reuses_it_and_keeps_what_was_known(send):
    send(body=json.dumps(CONTRACT_EXAMPLE).encode())
    later = CREATED_AT + timedelta(seconds=20)
    after_collect = {
        "call": {"id": "call_123", "direction": "outbound", "from": "+1999", "to": "+1888"},
        "variables": {"digits": "42"},
        "created_at": later.isoformat(),
    }

    response = send(body=json.dumps(after_collect).encode())

    assert_default_flow(response)
    call = Call.objects.get()
    assert (call.direction, call.from_number, call.to_number) == (
        "inbound",
        "+15550100",
        "+15550199",
    )
    assert call.answered_at == CREATED_AT  # answered once, at the first request
    assert call.last_step_at == later
    first, second = AnswerExchange.objects.order_by("received_at", "pk")
    assert first.call == second.call == call
    assert (first.variables, second.variables) == ({"digits": "1"}, {"digits": "42"})
    assert (first.occurred_at, second.occurred_at) == (CREATED_AT, later)


@pytest.mark.django_db
def test_a_later_request_fills_in_details_the_first_did_not_give(send):
    send(body=json.dumps({"call_id": "call_123"}).encode())
    send(body=json.dumps({**CALL_DETAILS, "direction": "inbound"}).encode())

    call = Call.objects.get()
    assert (call.direction, call.from_number, call.to_number) == (
        "inbound",
        "+15550100",
        "+15550199",
    )
    assert AnswerExchange.objects.filter(call=call).count() == 2


# -- Requests we refuse ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        pytest.param(_json({"variables": {"digits": "1"}}), 400, "missing_call_id", id="no-call"),
        pytest.param(
            {"method": "GET", "secret_set": False},
            400,
            "missing_call_id",
            id="get-without-parameters",
        ),
        pytest.param(_json({"call": {"id": ""}}), 400, "missing_call_id", id="empty-id"),
        pytest.param(_json({"call": {"id": "   "}}), 400, "missing_call_id", id="blank-id"),
        pytest.param(_json({"call": {"id": None}}), 400, "missing_call_id", id="null-id"),
        pytest.param(_json({"call": {"id": True}}), 400, "missing_call_id", id="boolean-id"),
        pytest.param(_json({"call": {"id": {"x": 1}}}), 400, "missing_call_id", id="object-id"),
        pytest.param(_json({"call": {"id": ["call_1"]}}), 400, "missing_call_id", id="list-id"),
        pytest.param(_json({"call_id": ["call_1"]}), 400, "missing_call_id", id="list-call_id"),
        pytest.param(_json({"call": "call_123"}), 400, "missing_call_id", id="call-is-a-string"),
        pytest.param({"body": b'{"call": {"id": "call_1"'}, 400, "malformed_json", id="truncated"),
        pytest.param({"body": b"call_id=call_1"}, 400, "malformed_json", id="form-sent-as-json"),
        pytest.param(_json([{"call": {"id": "call_1"}}]), 400, "malformed_json", id="json-array"),
        pytest.param(_json("call_1"), 400, "malformed_json", id="json-string"),
        pytest.param(
            _json({"call": {"id": "c" * (contract.CALL_ID_MAX_LENGTH + 1)}}),
            400,
            "invalid_call_id",
            id="call-id-too-long",
        ),
        pytest.param(
            {
                "method": "GET",
                "query": "call_id=" + "c" * (contract.CALL_ID_MAX_LENGTH + 1),
                "secret_set": False,
            },
            400,
            "invalid_call_id",
            id="get-call-id-too-long",
        ),
        pytest.param(
            _json({"call": {"id": "call\x01_1"}}),
            400,
            "invalid_call_id",
            id="control-character-in-call-id",
        ),
        pytest.param(
            _json({"call": {"id": "call\n_1"}}), 400, "invalid_call_id", id="newline-in-call-id"
        ),
        pytest.param(
            {"method": "GET", "query": "call_id=call%1B_1", "secret_set": False},
            400,
            "invalid_call_id",
            id="get-escape-character-in-call-id",
        ),
        pytest.param(
            {"body": b"call_id=call_1", "content_type": "text/plain"},
            415,
            "unsupported_media_type",
            id="text-plain",
        ),
        pytest.param(
            {"body": b"<call id='call_1'/>", "content_type": "application/xml"},
            415,
            "unsupported_media_type",
            id="xml",
        ),
    ],
)
@pytest.mark.django_db
def test_unusable_request_is_refused_with_an_envelope_and_logged_without_a_call(
    send, request_kwargs, status, code
):
    response = send(**request_kwargs)

    assert_refused(response, status, code)
    assert not Call.objects.exists()
    exchange = AnswerExchange.objects.get()
    assert exchange.call is None
    assert exchange.call_minivoice_id == ""
    assert exchange.method == request_kwargs.get("method", "POST")
    assert exchange.query_string == request_kwargs.get("query", "")
    assert exchange.request_body == request_kwargs.get("body", b"").decode()
    assert exchange.response_status == status
    assert exchange.response_body.encode() == response.content
    assert exchange.error
    assert exchange.flow == ""


@pytest.mark.django_db
def test_call_id_of_the_maximum_length_is_accepted(send):
    call_id = "c" * contract.CALL_ID_MAX_LENGTH

    response = send(body=json.dumps({"call": {"id": call_id}}).encode())

    assert_default_flow(response)
    assert Call.objects.get().minivoice_id == call_id


@pytest.mark.django_db
def test_body_over_the_limit_is_refused_before_anything_is_stored(send):
    padding = "x" * contract.MAX_ANSWER_BODY_BYTES
    body = json.dumps({"call": {"id": "call_123"}, "variables": {"pad": padding}}).encode()

    response = send(body=body)

    assert_refused(response, 413, "payload_too_large")
    assert_nothing_stored()


@pytest.mark.django_db
def test_body_of_exactly_the_limit_is_answered_and_kept_whole(send):
    empty = json.dumps({"call": {"id": "call_123"}, "variables": {"pad": ""}}).encode()
    padding = "x" * (contract.MAX_ANSWER_BODY_BYTES - len(empty))
    body = json.dumps({"call": {"id": "call_123"}, "variables": {"pad": padding}}).encode()
    assert len(body) == contract.MAX_ANSWER_BODY_BYTES

    response = send(body=body)

    assert_default_flow(response)
    assert AnswerExchange.objects.get().request_body == body.decode()


@pytest.mark.parametrize("body", HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
@pytest.mark.django_db
def test_signed_hostile_json_is_refused_as_malformed_and_logged_without_a_call(send, body):
    response = send(body=body)

    assert_refused(response, 400, "malformed_json")
    assert not Call.objects.exists()
    exchange = AnswerExchange.objects.get()
    assert exchange.call is None
    assert exchange.method == "POST"
    assert exchange.request_body == body.decode()
    assert exchange.response_status == 400
    assert exchange.response_body.encode() == response.content
    assert exchange.flow == ""
    assert exchange.error


@pytest.mark.django_db
def test_webhook_id_longer_than_255_characters_is_refused_and_not_stored(send):
    response = send(body=json.dumps(CONTRACT_EXAMPLE).encode(), webhook_id="m" * 256)

    assert_refused(response, 400, "invalid_webhook_id")
    assert_nothing_stored()


@pytest.mark.django_db
def test_webhook_id_of_255_characters_is_answered_and_stored(send):
    response = send(body=json.dumps(CONTRACT_EXAMPLE).encode(), webhook_id="m" * 255)

    assert_default_flow(response)
    assert AnswerExchange.objects.get().webhook_id == "m" * 255


# -- Signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_kwargs",
    [
        pytest.param({"sign": False}, id="unsigned"),
        pytest.param({"method": "GET", "query": "call_id=call_123", "sign": False}, id="get"),
        pytest.param({"secret": OTHER_SECRET}, id="wrong-secret"),
        pytest.param(
            {"timestamp": datetime.now(tz=UTC) - timedelta(minutes=10)}, id="stale-timestamp"
        ),
        pytest.param(
            {"timestamp": datetime.now(tz=UTC) + timedelta(minutes=10)}, id="future-timestamp"
        ),
        pytest.param(
            {"sign": False, "headers": {"HTTP_WEBHOOK_ID": "msg_1", "HTTP_WEBHOOK_SIGNATURE": "x"}},
            id="no-timestamp",
        ),
        pytest.param({"headers": {"HTTP_WEBHOOK_SIGNATURE": "v1"}}, id="malformed-signature"),
    ],
)
@pytest.mark.django_db
def test_request_without_a_valid_signature_is_refused_and_not_stored(send, request_kwargs):
    kwargs = {"body": json.dumps(CONTRACT_EXAMPLE).encode(), **request_kwargs}
    if kwargs.get("method") == "GET":
        kwargs["body"] = b""

    response = send(**kwargs)

    assert_refused(response, 401, "invalid_signature")
    assert_nothing_stored()


@pytest.mark.django_db
def test_body_changed_after_signing_is_refused(client):
    headers = signed(json.dumps(CONTRACT_EXAMPLE).encode())
    tampered = json.dumps({**CONTRACT_EXAMPLE, "variables": {"digits": "9"}})

    response = client.post(ANSWER_URL, data=tampered, content_type="application/json", **headers)

    assert_refused(response, 401, "invalid_signature")
    assert_nothing_stored()


@pytest.mark.django_db
def test_unsigned_request_is_answered_when_no_secret_is_configured(send, settings):
    settings.MINIVOICE_WEBHOOK_SECRETS = []

    response = send(body=json.dumps(CONTRACT_EXAMPLE).encode(), sign=False)

    assert_default_flow(response)
    assert AnswerExchange.objects.get().call == Call.objects.get(minivoice_id="call_123")


# -- Replays ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_replayed_post_gets_the_same_answer_and_stores_nothing_more(client):
    body = json.dumps(CONTRACT_EXAMPLE).encode()
    headers = signed(body, webhook_id="msg_replayed")

    first = client.post(ANSWER_URL, data=body, content_type="application/json", **headers)
    call_before = Call.objects.get()
    replay = client.post(ANSWER_URL, data=body, content_type="application/json", **headers)

    assert_default_flow(first)
    assert replay.status_code == 200
    assert replay["Content-Type"] == "application/json"
    assert replay.content == first.content
    call = Call.objects.get()
    assert call.updated_at == call_before.updated_at  # the replay did not even save it
    assert (call.last_step, call.last_step_at) == (call_before.last_step, call_before.last_step_at)
    exchange = AnswerExchange.objects.get()
    assert exchange.webhook_id == "msg_replayed"
    assert exchange.call == call
    assert exchange.response_body.encode() == first.content


# -- Only signed bytes count (CONTRACT.md §1, "Signed requests") ---------------------------
# A signature covers the webhook-id, the timestamp and the body: nothing else of the
# request may create or change a call once a secret is set.


@pytest.mark.django_db
def test_captured_webhook_replayed_to_the_answer_url_changes_no_call(client, post_webhook):
    post_answer_body = json.dumps(CONTRACT_EXAMPLE).encode()
    client.post(
        ANSWER_URL,
        data=post_answer_body,
        content_type="application/json",
        **signed(post_answer_body),
    )
    before = Call.objects.get()
    captured = json.dumps(
        minivoice_event("call.completed", call_id="call_123", status="completed")
    ).encode()
    headers = signed(captured, webhook_id="msg_captured")
    assert post_webhook(captured, webhook_id="msg_captured").status_code == 202
    after_webhook = Call.objects.get()

    replay = client.post(
        f"{ANSWER_URL}?call_id=call_123&from=%2B1999",
        data=captured,
        content_type="application/json",
        **headers,
    )

    assert_refused(replay, 400, "webhook_event_body")
    call = Call.objects.get()
    assert call.from_number == before.from_number == "+15550100"
    assert (call.last_step, call.updated_at) == (after_webhook.last_step, after_webhook.updated_at)
    assert AnswerExchange.objects.filter(response_status=200).count() == 1


@pytest.mark.parametrize(
    "query",
    ["", "call_id=victim&from=%2B1999&created_at=2001-01-01T00:00:00Z"],
    ids=["no-query", "attacker-query"],
)
@pytest.mark.django_db
def test_signed_get_is_refused_whatever_its_query(send, query):
    # Every GET's body is empty, so any captured GET signature fits any query string.
    response = send("GET", query=query)

    assert_refused(response, 405, "signed_post_required")
    assert not Call.objects.exists()
    refusal = AnswerExchange.objects.get()
    assert (refusal.call, refusal.call_minivoice_id) == (None, "")


@pytest.mark.django_db
def test_query_parameters_on_a_signed_post_change_nothing(send):
    body = json.dumps({"call": {"id": "call_123"}, "variables": {"digits": "1"}}).encode()

    response = send(
        body=body,
        query="call_id=victim&from=%2B1999&direction=outbound"
        "&created_at=2001-01-01T00:00:00Z&digits=9&pin=0000",
    )

    assert_default_flow(response)
    call = Call.objects.get()
    assert call.minivoice_id == "call_123"
    assert (call.from_number, call.direction) == ("", "")
    exchange = AnswerExchange.objects.get()
    assert exchange.variables == {"digits": "1"}
    assert exchange.occurred_at is None
    assert exchange.query_string.startswith("call_id=victim")  # kept for support, not used


@pytest.mark.django_db
def test_webhook_id_of_a_stored_event_is_refused_at_the_answer_url(send, post_webhook):
    post_webhook(minivoice_event("call.ringing"), webhook_id="msg_shared")

    response = send(body=json.dumps(CONTRACT_EXAMPLE).encode(), webhook_id="msg_shared")

    assert_refused(response, 409, "webhook_id_reused")
    assert not AnswerExchange.objects.filter(response_status=200).exists()
    assert Call.objects.get().answered_at is None


@pytest.mark.django_db
def test_signed_answer_request_replayed_to_the_webhook_url_is_not_stored(client, send):
    body = json.dumps(CONTRACT_EXAMPLE).encode()
    headers = signed(body, webhook_id="msg_answer")
    assert_default_flow(
        client.post(ANSWER_URL, data=body, content_type="application/json", **headers)
    )

    replay = client.post(WEBHOOK_URL, data=body, content_type="application/json", **headers)

    assert_refused(replay, 409, "webhook_id_reused")
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_with_no_secret_set_get_and_query_parameters_are_read_liberally(send):
    response = send("GET", query=urlencode(GET_PARAMS), secret_set=False)

    assert_default_flow(response)
    call = recorded_call_123()
    assert call.direction == "inbound"


@pytest.mark.django_db
def test_replay_after_a_fallback_answer_gets_the_same_fallback(client, monkeypatch):
    body = json.dumps(CONTRACT_EXAMPLE).encode()
    headers = signed(body, webhook_id="msg_fallback_replayed")
    monkeypatch.setattr(flows, "actions_for_call", _raise)
    first = client.post(ANSWER_URL, data=body, content_type="application/json", **headers)
    monkeypatch.undo()  # the flow works again, but the replay gets what was answered

    replay = client.post(ANSWER_URL, data=body, content_type="application/json", **headers)

    assert first.json() == flows.FALLBACK_PAYLOAD
    assert replay.status_code == 200
    assert replay.content == first.content
    exchange = AnswerExchange.objects.get()
    assert (exchange.webhook_id, exchange.flow) == ("msg_fallback_replayed", "fallback")
    assert Call.objects.count() == 1


@pytest.mark.django_db
def test_requests_with_different_webhook_ids_are_each_answered_and_logged(send):
    body = json.dumps(CONTRACT_EXAMPLE).encode()

    send(body=body, webhook_id="msg_a")
    send(body=body, webhook_id="msg_b")

    assert sorted(AnswerExchange.objects.values_list("webhook_id", flat=True)) == [
        "msg_a",
        "msg_b",
    ]
    assert Call.objects.count() == 1


# -- Failures on our side -------------------------------------------------------------------


def _raise(**kwargs):
    raise RuntimeError("flow exploded")


def _invalid_payload(**kwargs):
    return "broken", {"actions": [{"say": {}}]}


@pytest.mark.parametrize("actions_for_call", [_raise, _invalid_payload], ids=["raises", "invalid"])
@pytest.mark.django_db
def test_failing_flow_answers_the_fallback_and_logs_why(send, monkeypatch, actions_for_call):
    monkeypatch.setattr(flows, "actions_for_call", actions_for_call)

    response = send(body=json.dumps(CONTRACT_EXAMPLE).encode())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == flows.FALLBACK_PAYLOAD
    call = Call.objects.get()
    assert call.status == Call.Status.IN_PROGRESS
    assert "fallback" in call.last_step
    exchange = AnswerExchange.objects.get()
    assert exchange.call == call
    assert exchange.flow == flows.FALLBACK_FLOW == "fallback"
    assert exchange.error.strip()
    assert exchange.response_status == 200
    assert exchange.response_body.encode() == response.content


@pytest.mark.django_db
def test_database_failure_still_answers_the_fallback(send, monkeypatch):
    def database_down(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("calls.intake.views.answer_call", database_down)

    response = send(body=json.dumps(CONTRACT_EXAMPLE).encode())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == flows.FALLBACK_PAYLOAD


@pytest.mark.django_db
def test_a_database_away_for_a_moment_still_answers_the_flow_and_logs_it_once(send, monkeypatch):
    real, tries = answers._answer_and_log, []

    def away_then_back(**kwargs):
        tries.append(1)
        if len(tries) < 3:  # a restart: the first two tries find no server
            raise OperationalError("connection failed: the database system is shutting down")
        return real(**kwargs)

    monkeypatch.setattr(answers, "_answer_and_log", away_then_back)
    monkeypatch.setattr(answers, "DATABASE_RETRY_PAUSE", 0.01)

    response = send(body=json.dumps(CONTRACT_EXAMPLE).encode(), webhook_id="msg_away")

    assert_default_flow(response)
    assert len(tries) == 3
    exchange = AnswerExchange.objects.get()
    assert (exchange.webhook_id, exchange.call.minivoice_id) == ("msg_away", "call_123")
    assert json.loads(exchange.response_body) == response.json()


@pytest.mark.django_db(transaction=True)
def test_an_answer_waits_for_a_database_server_that_refused_to_connect(
    send, monkeypatch, free_tcp_port
):
    # A restart as the answer comes: the connection is gone and a new one is refused.
    if connection.vendor != "postgresql":
        pytest.skip("a database server that refuses connections: PostgreSQL")
    port = connection.settings_dict["PORT"]
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", str(free_tcp_port))  # nobody there
    pauses = []

    def server_back_after(seconds: float) -> None:
        pauses.append(seconds)
        connection.settings_dict["PORT"] = port

    monkeypatch.setattr(
        answers, "time", SimpleNamespace(monotonic=time.monotonic, sleep=server_back_after)
    )

    response = send(body=json.dumps(CONTRACT_EXAMPLE).encode(), webhook_id="msg_restart")

    assert_default_flow(response)
    assert len(pauses) == 1
    assert AnswerExchange.objects.get().webhook_id == "msg_restart"


@pytest.mark.django_db
def test_a_database_away_for_longer_gets_the_fallback_in_bounded_time(send, monkeypatch):
    tries = []

    def away(**kwargs):
        tries.append(1)
        raise OperationalError("connection failed: Connection refused")

    monkeypatch.setattr(answers, "_answer_and_log", away)
    monkeypatch.setattr(answers, "DATABASE_AWAY_SECONDS", 0.2)
    monkeypatch.setattr(answers, "DATABASE_RETRY_PAUSE", 0.05)

    response = send(body=json.dumps(CONTRACT_EXAMPLE).encode())

    assert response.status_code == 200
    assert response.json() == flows.FALLBACK_PAYLOAD
    assert 2 <= len(tries) <= 4
    assert not Call.objects.exists()


@pytest.mark.django_db
def test_fallback_answer_is_logged_without_a_call_with_the_error(send, monkeypatch):
    def database_down(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("calls.intake.views.answer_call", database_down)
    body = json.dumps(CONTRACT_EXAMPLE).encode()

    response = send(body=body, webhook_id="msg_fallback")

    assert response.status_code == 200
    assert response.json() == flows.FALLBACK_PAYLOAD
    assert not Call.objects.exists()
    exchange = AnswerExchange.objects.get()
    assert exchange.call is None
    assert exchange.flow == flows.FALLBACK_FLOW == "fallback"
    assert "server closed the connection" in exchange.error
    assert exchange.response_status == 200
    assert exchange.response_body.encode() == response.content
    assert exchange.method == "POST"
    assert exchange.request_body == body.decode()
    assert exchange.request_headers["webhook-id"] == "msg_fallback"
    assert exchange.call_minivoice_id == "call_123"


@pytest.mark.django_db
def test_fallback_exchange_is_in_the_timeline_of_the_call_id_it_named(send, monkeypatch):
    def database_down(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("calls.intake.views.answer_call", database_down)

    response = send(body=json.dumps(CONTRACT_EXAMPLE).encode())

    assert response.json() == flows.FALLBACK_PAYLOAD
    assert not Call.objects.exists()  # no Call row: the exchange is found by the id alone
    exchange = AnswerExchange.objects.get()
    assert (exchange.call, exchange.call_minivoice_id) == (None, "call_123")
    [entry] = call_timeline(call_id="call_123")
    assert (entry.kind, entry.exchange, entry.event) == ("answer_url", exchange, None)
    assert call_timeline(call_id="call_999") == []


@pytest.mark.django_db
def test_fallback_is_still_answered_when_logging_it_fails_too(send, monkeypatch, caplog):
    def database_down(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("calls.intake.views.answer_call", database_down)
    monkeypatch.setattr(AnswerExchange.objects, "create", database_down)

    response = send(body=json.dumps(CONTRACT_EXAMPLE).encode())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == flows.FALLBACK_PAYLOAD
    assert_nothing_stored()
    assert "Could not log an answer_url exchange" in caplog.text


def exchange_insert_fails(monkeypatch):
    """The database fails on the first statement that logs an exchange (on PostgreSQL,
    the one that also inserts a new call), with no time left to try again, then comes
    back for the fallback's log."""
    monkeypatch.setattr(answers, "DATABASE_AWAY_SECONDS", 0)
    failed = []

    def wrapper(execute, sql, params, many, context):
        if 'INSERT INTO "calls_answerexchange"' in sql and not failed:
            failed.append(sql)
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return connection.execute_wrapper(wrapper)


@pytest.mark.django_db
def test_database_failure_midway_leaves_no_half_recorded_call(send, monkeypatch):
    with exchange_insert_fails(monkeypatch):
        response = send(body=json.dumps(CONTRACT_EXAMPLE).encode())

    assert response.status_code == 200
    assert response.json() == flows.FALLBACK_PAYLOAD
    assert not Call.objects.exists()  # the call row rolled back with the failed exchange


@pytest.mark.django_db
def test_database_failure_midway_leaves_a_known_call_as_it_was(send, monkeypatch):
    send(body=json.dumps(CONTRACT_EXAMPLE).encode())
    before = Call.objects.values().get()
    later = {**CONTRACT_EXAMPLE, "created_at": "2026-05-29T12:00:30Z"}

    with exchange_insert_fails(monkeypatch):
        response = send(body=json.dumps(later).encode())

    assert response.json() == flows.FALLBACK_PAYLOAD
    assert Call.objects.values().get() == before  # its update rolled back too


# -- HTTP details ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.django_db
def test_other_methods_are_not_allowed(send, method):
    response = send(method, body=json.dumps(CONTRACT_EXAMPLE).encode())

    assert_refused(response, 405, "method_not_allowed")
    assert_nothing_stored()


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
@pytest.mark.django_db
def test_head_and_options_are_not_allowed_and_store_nothing(send, method):
    response = send(method, body=json.dumps(CONTRACT_EXAMPLE).encode())

    assert response.status_code == 405
    if method == "OPTIONS":  # HEAD answers have no body
        assert_refused(response, 405, "method_not_allowed")
    assert_nothing_stored()


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
@pytest.mark.django_db
def test_head_and_options_with_call_parameters_store_nothing(send, method):
    response = send(method, query="call_id=call_123&digits=1")

    assert response.status_code == 405
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("body", "status"),
    [(json.dumps(CONTRACT_EXAMPLE).encode(), 200), (b"{}", 400)],
    ids=["answer", "refusal"],
)
@pytest.mark.django_db
def test_accept_html_still_answers_json(send, body, status):
    response = send(body=body, headers={"HTTP_ACCEPT": "text/html"})

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()


@pytest.mark.django_db
def test_json_with_a_charset_parameter_is_accepted(send):
    response = send(
        body=json.dumps(CONTRACT_EXAMPLE).encode(), content_type="application/json; charset=utf-8"
    )

    assert_default_flow(response)
    assert Call.objects.filter(minivoice_id="call_123").exists()


# PostgreSQL text and jsonb columns cannot hold NUL (SQLite can): a NUL MiniVoice sends
# must neither lose the log nor turn the answer into a 500 or the fallback.
@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        pytest.param({"body": b'{"call": {"id": "call_\x00"}}'}, 400, id="raw-nul-in-bad-json"),
        pytest.param(
            _json({"call": {"id": "call_123"}, "variables": {"digits": "1\x00"}}),
            200,
            id="escaped-nul-in-json-variables",
        ),
        pytest.param(
            {"method": "GET", "query": "call_id=call_123&digits=%00", "secret_set": False},
            200,
            id="get-with-no-secret-set",
        ),
    ],
)
@pytest.mark.django_db
def test_nul_character_in_the_request_is_answered_and_logged(send, kwargs, status):
    response = send(**kwargs)

    assert response.status_code == status
    assert response.json() != flows.FALLBACK_PAYLOAD
    exchange = AnswerExchange.objects.get()
    assert exchange.response_status == status
    assert exchange.response_body.encode() == response.content


@pytest.mark.parametrize(
    ("make_request", "query_string"),
    [
        pytest.param(
            lambda client: client.get(f"{ANSWER_URL}?call_id=c1&x=a%00b"),
            "call_id=c1&x=a%00b",
            id="percent-encoded",
        ),
        # A server may pass a raw NUL byte on in QUERY_STRING (the test client's URL
        # parsing would encode it, so the environ is set by hand).
        pytest.param(
            lambda client: client.generic("GET", ANSWER_URL, QUERY_STRING="call_id=c1&x=a\x00b"),
            "call_id=c1&x=a\ufffdb",
            id="raw",
        ),
    ],
)
@pytest.mark.django_db
def test_nul_in_the_query_string_is_answered_and_stored_replaced(
    client, settings, make_request, query_string
):
    settings.MINIVOICE_WEBHOOK_SECRETS = []  # query strings are read only with no secret set
    response = make_request(client)

    assert_default_flow(response)
    call = Call.objects.get()
    assert call.minivoice_id == "c1"
    exchange = AnswerExchange.objects.get()
    assert exchange.call == call
    assert exchange.method == "GET"
    assert exchange.query_string == query_string
    assert exchange.variables == {"x": "a\ufffdb"}
    assert exchange.response_body.encode() == response.content


@pytest.mark.django_db
def test_lone_surrogates_in_the_request_are_answered_and_stored_replaced(send):
    # Valid JSON escapes, but not text a database holds: replaced by U+FFFD, never a 500.
    body = json.dumps(
        {
            "call": {"id": "call_\ud800", "from": "+1555\udfff"},
            "variables": {"digits": "1\ud800", "k\udc00": "v"},
        }
    ).encode()

    response = send(body=body)

    assert_default_flow(response)
    call = Call.objects.get()
    assert call.minivoice_id == "call_\ufffd"
    assert call.from_number == "+1555\ufffd"
    exchange = AnswerExchange.objects.get()
    assert exchange.call == call
    assert exchange.variables == {"digits": "1\ufffd", "k\ufffd": "v"}
    assert exchange.request_body == body.decode()  # the escapes, as sent
    assert exchange.response_body.encode() == response.content


# -- Payloads -------------------------------------------------------------------------------


@pytest.mark.django_db  # the default flow is a published flow now, read from the database
def test_default_and_fallback_payloads_are_valid_without_warnings():
    _, default = flows.actions_for_call(call=Call(minivoice_id="call_123"), variables={})

    for payload in (default, flows.FALLBACK_PAYLOAD):
        validation = validate_payload(payload)
        assert validation.is_valid, validation.errors
        assert validation.warnings == ()
    assert [action_name(action) for action in default["actions"]] == DEFAULT_ACTION_NAMES
