"""calls.rows: a follow-up's call read, then its exchange and the call's changes written in
one statement, only if no other request of the call changed the row in between."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from calls.models import AnswerExchange, Call
from calls.rows import call_and_exchange_insert, call_read, follow_up_insert, insert_row
from calls.tests.flow_data import ask, collect_url, main_line_published
from calls.tests.test_rows import a_delivery, a_new_call_and_its_exchange, stored_fields

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's row versions"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def answered_call() -> Call:
    call, exchange = a_new_call_and_its_exchange()
    assert call_and_exchange_insert(call, exchange, webhook_id="msg_answer")
    return call


def a_follow_up(call: Call, webhook_id: str = "msg_follow") -> AnswerExchange:
    _, exchange = a_new_call_and_its_exchange(call.minivoice_id, webhook_id=webhook_id)
    exchange.step = "record"
    return exchange


def test_a_follow_up_is_read_then_written_in_one_statement_as_the_orm_reads_it(answered_call):
    with CaptureQueriesContext(connection) as queries:
        stored = call_read("call_new", webhook_id="msg_follow")
        stored.call.last_step = "Main line v1, step 'record' (pressed 1)"
        exchange = a_follow_up(stored.call)
        assert follow_up_insert(stored, exchange) is True

    assert len(queries) == 2
    assert stored_fields(stored.call) == stored_fields(answered_call) | {
        "last_step": "Main line v1, step 'record' (pressed 1)",
        "updated_at": stored.call.updated_at,
    }
    assert stored_fields(Call.objects.get()) == stored_fields(stored.call)
    assert stored_fields(AnswerExchange.objects.get(webhook_id="msg_follow")) == stored_fields(
        exchange
    )


def test_a_call_changed_after_it_was_read_is_not_overwritten(answered_call):
    stored = call_read("call_new", webhook_id="msg_follow")
    Call.objects.filter(pk=answered_call.pk).update(status=Call.Status.ENDED)
    stored.call.last_step = "stale"

    assert follow_up_insert(stored, a_follow_up(stored.call)) is False

    assert Call.objects.get().status == Call.Status.ENDED
    assert Call.objects.get().last_step != "stale"
    assert not AnswerExchange.objects.filter(webhook_id="msg_follow").exists()


def test_a_replayed_follow_up_writes_neither_row(answered_call):
    stored = call_read("call_new", webhook_id="msg_answer")
    stored.call.last_step = "replayed"

    assert follow_up_insert(stored, a_follow_up(stored.call, webhook_id="msg_answer")) is False

    assert Call.objects.get().last_step != "replayed"
    assert AnswerExchange.objects.count() == 1


def test_the_read_says_whether_an_event_has_the_webhook_id_and_finds_no_unknown_call(
    answered_call,
):
    insert_row(a_delivery("msg_event"))

    assert call_read("call_new", webhook_id="msg_event").webhook_id_is_an_event_s is True
    assert call_read("call_new", webhook_id="msg_other").webhook_id_is_an_event_s is False
    assert call_read("call_unknown", webhook_id="msg_other") is None


def test_follow_ups_of_one_call_at_once_are_all_answered_and_logged():
    # Through the answer_url: each follow-up either writes at once or, when another got
    # to the call first, takes the general path that locks it; none is lost or doubled.
    main_line_published()
    first = ask(Client())
    url = collect_url(first)
    start = Barrier(8)

    def press(n: int) -> int:
        start.wait()
        try:
            return ask(Client(), url=url, digits="1").status_code
        finally:
            connection.close()  # this thread's own

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(press, range(8)))

    assert statuses == [200] * 8
    follow_ups = AnswerExchange.objects.filter(step="record")
    assert follow_ups.count() == 8
    assert {e.flow for e in follow_ups} == {"Main line"}
    assert "step 'record' (pressed 1)" in Call.objects.get().last_step
