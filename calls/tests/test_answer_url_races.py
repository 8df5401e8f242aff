"""answer_url under concurrency and replay: the guarantees its one-statement path keeps.

The call is created or locked by one INSERT … ON CONFLICT, and a replay is found by the
exchange's unique webhook-id on insert (calls.rows, calls.intake.answers.answer_call); these
tests send real requests at once and check the rows that result.

On PostgreSQL the requests really race. SQLite's in-memory test database (shared cache)
answers "database table is locked" at once, where a laptop's file database would wait out
its busy timeout, so there the requests take turns (as in test_webhooks.py).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from threading import Barrier, Lock

import pytest
from django.db import connection
from django.test import Client

from calls import flows
from calls.models import AnswerExchange, Call, WebhookEvent
from conftest import ANSWER_URL, minivoice_event, signed

COPIES = 6


def answer_body(call_id: str) -> bytes:
    return json.dumps(
        {
            "call": {"id": call_id, "status": "in_progress", "from": "+15550100"},
            "variables": {"digits": "1"},
            "created_at": "2026-05-29T12:00:00Z",
        }
    ).encode()


def send_at_once(requests: list[tuple[bytes, dict]]) -> list:
    """POST each (body, headers) from a thread of its own, all released together."""
    barrier = Barrier(len(requests))
    turns = Lock() if connection.vendor == "sqlite" else nullcontext()

    def send(request: tuple[bytes, dict]):
        body, headers = request
        try:
            client = Client()
            barrier.wait(timeout=10)
            with turns:
                return client.post(
                    ANSWER_URL, data=body, content_type="application/json", **headers
                )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_requests_for_one_call_create_one_call():
    body = answer_body("call_race")
    requests = [(body, signed(body, webhook_id=f"msg_race_{n}")) for n in range(COPIES)]

    responses = send_at_once(requests)

    assert [r.status_code for r in responses] == [200] * COPIES
    assert all(r.json() != flows.FALLBACK_PAYLOAD for r in responses)
    call = Call.objects.get()
    assert call.minivoice_id == "call_race"
    assert call.status == Call.Status.IN_PROGRESS
    exchanges = AnswerExchange.objects.all()
    assert sorted(e.webhook_id for e in exchanges) == sorted(f"msg_race_{n}" for n in range(COPIES))
    assert {e.call_id for e in exchanges} == {call.pk}


@pytest.mark.django_db(transaction=True)
def test_simultaneous_copies_of_one_request_are_answered_alike_and_logged_once():
    body = answer_body("call_copies")
    headers = signed(body, webhook_id="msg_copies")

    responses = send_at_once([(body, headers)] * COPIES)

    assert [r.status_code for r in responses] == [200] * COPIES
    assert len({r.content for r in responses}) == 1
    exchange = AnswerExchange.objects.get()
    assert exchange.webhook_id == "msg_copies"
    assert exchange.response_body.encode() == responses[0].content
    assert Call.objects.get().minivoice_id == "call_copies"


@pytest.mark.django_db
def test_replay_gets_the_stored_answer_even_after_the_call_moved_on(client, post_webhook):
    body = answer_body("call_123")
    headers = signed(body, webhook_id="msg_first")
    first = client.post(ANSWER_URL, data=body, content_type="application/json", **headers)
    post_webhook(minivoice_event("call.completed", call_id="call_123", status="completed"))
    ended = Call.objects.get()
    assert ended.status == Call.Status.ENDED

    replay = client.post(ANSWER_URL, data=body, content_type="application/json", **headers)

    assert replay.status_code == 200
    assert replay.content == first.content
    call = Call.objects.get()
    assert (call.last_step, call.updated_at) == (ended.last_step, ended.updated_at)
    assert AnswerExchange.objects.count() == 1


@pytest.mark.django_db
def test_webhook_id_of_an_event_is_refused_and_creates_no_call(client, post_webhook):
    post_webhook(minivoice_event("call.ringing", call_id="call_event"), webhook_id="msg_shared")
    body = answer_body("call_never_seen")

    response = client.post(
        ANSWER_URL,
        data=body,
        content_type="application/json",
        **signed(body, webhook_id="msg_shared"),
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "webhook_id_reused"
    # The call was created in the same statement that found the event; it rolled back.
    assert not Call.objects.filter(minivoice_id="call_never_seen").exists()
    refusal = AnswerExchange.objects.get()
    assert (refusal.call, refusal.response_status, refusal.webhook_id) == (None, 409, "")
    assert WebhookEvent.objects.get().webhook_id == "msg_shared"
