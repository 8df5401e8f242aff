"""calls.rows: the request path's prebuilt statements write what the ORM would write.

Each test writes with the prebuilt statement and reads back with the ORM, so a field the
statements prepared differently (JSON, times, NUL-free text) shows up as a difference.
Run on SQLite and on PostgreSQL (DATABASE_URL): the statements and conversions differ.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from threading import Barrier

import psycopg
import pytest
from django.db import (
    IntegrityError,
    OperationalError,
    close_old_connections,
    connection,
    models,
    transaction,
)
from django.db.models.functions import Now, Upper
from django.forms.models import model_to_dict
from django.test.utils import isolate_apps

from calls.models import AnswerExchange, Call, WebhookEvent
from calls.rows import (
    call_and_exchange_insert,
    call_create_or_lock,
    insert_row,
    update_row,
)
from calls.rows.fields import insert_params, inserted, updated

AT = datetime(2026, 5, 29, 12, 0, 12, tzinfo=UTC)


def a_delivery(webhook_id: str = "msg_1") -> WebhookEvent:
    return WebhookEvent(
        webhook_id=webhook_id,
        event_type="call.ringing",
        call_minivoice_id="call_1",
        occurred_at=AT,
        headers={"webhook-id": webhook_id, "user-agent": "MiniVoice/1.0 Zoë"},
        raw_body='{"event": "call.ringing", "n": 1.5}',
        payload={"event": "call.ringing", "n": 1.5, "nested": {"list": [1, None, "ü"]}},
    )


def stored_fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


@pytest.mark.django_db
def test_inserted_event_reads_back_as_the_orm_would_have_stored_it():
    event = a_delivery()

    assert insert_row(event) is True

    assert event.pk is not None
    assert not event._state.adding
    assert stored_fields(WebhookEvent.objects.get(pk=event.pk)) == stored_fields(event)


@pytest.mark.django_db
def test_inserted_exchange_with_a_call_reads_back_the_same():
    call = Call.objects.create(minivoice_id="call_1")
    exchange = AnswerExchange(
        call=call,
        call_minivoice_id="call_1",
        webhook_id="msg_answer",
        method="POST",
        request_headers={"webhook-id": "msg_answer"},
        request_body="{}",
        variables={"digits": "1"},
        flow="default",
        response_status=200,
        response_body='{"actions": []}',
        duration_ms=1.25,
    )

    insert_row(exchange)

    stored = AnswerExchange.objects.get()
    assert stored.call == call
    assert stored_fields(stored) == stored_fields(exchange)


@pytest.mark.django_db
def test_a_duplicate_is_not_stored_when_conflicts_are_ignored():
    insert_row(a_delivery("msg_twice"))
    second = a_delivery("msg_twice")
    second.raw_body = "another body"

    assert insert_row(second, ignore_conflicts=True) is False

    assert second.pk is None
    assert WebhookEvent.objects.get().raw_body != "another body"


@pytest.mark.django_db
def test_a_duplicate_raises_when_conflicts_are_not_ignored():
    insert_row(a_delivery("msg_twice"))

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_row(a_delivery("msg_twice"))
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_update_writes_every_field_and_the_update_time():
    call = Call.objects.create(minivoice_id="call_1")
    before = call.updated_at
    call.status = Call.Status.IN_PROGRESS
    call.from_number = "+15550100"
    call.answered_at = AT
    call.last_step = "Flow 'default': say"

    update_row(call)

    stored = Call.objects.get()
    assert model_to_dict(stored) == model_to_dict(call)
    assert stored.updated_at == call.updated_at > before


@pytest.mark.django_db
def test_create_or_lock_inserts_a_new_call_as_given():
    with transaction.atomic():
        call, event_has_id = call_create_or_lock(
            Call(minivoice_id="call_new", started_at=AT), webhook_id="msg_x"
        )

    assert event_has_id is False
    assert call.pk is not None
    assert not call._state.adding
    stored = Call.objects.get()
    assert stored_fields(stored) == stored_fields(call)
    assert (stored.minivoice_id, stored.started_at, stored.status) == (
        "call_new",
        AT,
        Call.Status.INITIATED,
    )


@pytest.mark.django_db
def test_create_or_lock_returns_the_stored_call_unchanged():
    stored = Call.objects.create(
        minivoice_id="call_1", started_at=AT, status=Call.Status.RINGING, from_number="+1555"
    )

    with transaction.atomic():
        call, _ = call_create_or_lock(
            Call(minivoice_id="call_1", started_at=AT + timedelta(minutes=5)), webhook_id=""
        )

    assert call.pk == stored.pk
    assert stored_fields(call) == stored_fields(stored)
    assert stored_fields(Call.objects.get()) == stored_fields(stored)


@pytest.mark.django_db
def test_a_call_read_back_by_create_or_lock_is_what_the_orm_reads():
    """The read-back converts as the ORM does through private Django API
    (`calls.rows.fields.converters`, checked against Django 5.2.19): every value the same, of
    the same type, times aware in the same zone (SQLite's driver returns them naive)."""
    plus_two = timezone(timedelta(hours=2))
    Call.objects.create(
        minivoice_id="call_1",
        direction="inbound",
        from_number="+15550100",
        to_number="+15550199",
        status=Call.Status.ENDED,
        final_status=Call.FinalStatus.COMPLETED,
        started_at=AT.astimezone(plus_two),
        answered_at=AT + timedelta(seconds=3),
        ended_at=AT + timedelta(seconds=64),
        duration_seconds=61,
        last_step="Flow 'default': say",
        last_step_at=AT + timedelta(seconds=3),
    )

    with transaction.atomic():
        call, _ = call_create_or_lock(Call(minivoice_id="call_1"), webhook_id="")

    orms = Call.objects.get()
    for field in Call._meta.concrete_fields:
        ours, theirs = getattr(call, field.attname), getattr(orms, field.attname)
        assert (ours, type(ours)) == (theirs, type(theirs)), field.name
        if isinstance(theirs, datetime):
            assert ours.utcoffset() == theirs.utcoffset(), field.name


@pytest.mark.django_db
def test_create_or_lock_says_whether_a_webhook_event_has_the_webhook_id():
    insert_row(a_delivery("msg_event"))

    with transaction.atomic():
        _, taken = call_create_or_lock(Call(minivoice_id="call_1"), webhook_id="msg_event")
        _, free = call_create_or_lock(Call(minivoice_id="call_1"), webhook_id="msg_other")

    assert (taken, free) == (True, False)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite locks the whole database, not rows"
)
@pytest.mark.django_db(transaction=True)
def test_create_or_lock_holds_the_row_lock_until_the_transaction_ends():
    Call.objects.create(minivoice_id="call_1")
    locked, tried = Barrier(2), Barrier(2)

    def hold_the_lock() -> None:
        try:
            with transaction.atomic():
                call_create_or_lock(Call(minivoice_id="call_1"), webhook_id="")
                locked.wait(timeout=10)
                tried.wait(timeout=10)
        finally:
            connection.close()

    def try_to_lock() -> str:
        try:
            locked.wait(timeout=10)
            try:
                with transaction.atomic():
                    Call.objects.select_for_update(nowait=True).get(minivoice_id="call_1")
            except OperationalError:
                return "locked"
            return "free"
        finally:
            tried.wait(timeout=10)
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        holder = pool.submit(hold_the_lock)
        verdict = pool.submit(try_to_lock).result()
        holder.result()

    assert verdict == "locked"


def a_new_call_and_its_exchange(call_id: str = "call_new", webhook_id: str = "msg_answer"):
    call = Call(minivoice_id=call_id, started_at=AT, status=Call.Status.IN_PROGRESS)
    call.fill_details(direction="inbound", from_number="+15550100", to_number="+15550199")
    exchange = AnswerExchange(
        call=call,
        call_minivoice_id=call_id,
        webhook_id=webhook_id,
        method="POST",
        request_headers={"webhook-id": webhook_id},
        request_body="{}",
        variables={"digits": "1", "ü": [1, None]},
        flow="default",
        response_status=200,
        response_body='{"actions": []}',
        duration_ms=1.25,
    )
    return call, exchange


def _as_the_orm_prepares(obj) -> list:
    return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in inserted(type(obj))]


def _comparable(values: list) -> list:
    """JSON values come wrapped in an adapter on PostgreSQL: compare what they hold."""
    return [getattr(value, "obj", value) for value in values]


@pytest.mark.django_db
@pytest.mark.parametrize("which", ["event", "call", "exchange"])
def test_a_new_row_s_values_are_prepared_exactly_as_the_orm_prepares_them(which):
    call, exchange = a_new_call_and_its_exchange()
    call.mark_answered(AT)
    obj = {"event": a_delivery(), "call": call, "exchange": exchange}[which]

    ours, orms = insert_params(obj, connection), _as_the_orm_prepares(obj)

    assert _comparable(_unstamped(obj, ours)) == _comparable(_unstamped(obj, orms))


def _unstamped(obj, values: list) -> list:
    """Less `updated_at`, which each preparation stamps with its own now."""
    fields = inserted(type(obj))
    return [value for f, value in zip(fields, values, strict=True) if f.attname != "updated_at"]


@pytest.mark.django_db
def test_values_the_shortcut_does_not_know_are_prepared_by_the_orm():
    event = a_delivery()
    event.webhook_id = 12345  # not text: the ORM makes it "12345"
    event.occurred_at = datetime(2026, 5, 29, 12, 0, 12)  # naive: the ORM warns, makes it aware

    with pytest.warns(RuntimeWarning, match="naive datetime"):
        ours = insert_params(event, connection)
        orms = _as_the_orm_prepares(event)

    assert _comparable(ours) == _comparable(orms)
    names = [f.attname for f in inserted(WebhookEvent)]
    assert ours[names.index("webhook_id")] == "12345"


@pytest.mark.django_db
def test_new_call_and_exchange_read_back_as_given_and_tied_together():
    call, exchange = a_new_call_and_its_exchange()

    assert call_and_exchange_insert(call, exchange, webhook_id="msg_answer") is True

    assert not call._state.adding and not exchange._state.adding
    assert stored_fields(Call.objects.get()) == stored_fields(call)
    stored = AnswerExchange.objects.get()
    assert stored_fields(stored) == stored_fields(exchange)
    assert stored.call_id == call.pk


@pytest.mark.django_db
def test_known_call_stores_neither_row():
    Call.objects.create(minivoice_id="call_new", status=Call.Status.RINGING)
    call, exchange = a_new_call_and_its_exchange()

    assert call_and_exchange_insert(call, exchange, webhook_id="msg_answer") is False

    assert Call.objects.get().status == Call.Status.RINGING
    assert not AnswerExchange.objects.exists()
    assert call.pk is None and exchange.pk is None


@pytest.mark.django_db
def test_webhook_id_of_an_event_stores_neither_row_but_an_empty_one_is_not_looked_for():
    insert_row(a_delivery(webhook_id=""))  # an empty id is never a match
    insert_row(a_delivery("msg_event"))

    taken = call_and_exchange_insert(*a_new_call_and_its_exchange(), webhook_id="msg_event")
    empty = call_and_exchange_insert(
        *a_new_call_and_its_exchange("call_other", webhook_id=""), webhook_id=""
    )

    assert (taken, empty) == (False, True)
    assert list(Call.objects.values_list("minivoice_id", flat=True)) == ["call_other"]


@pytest.mark.django_db
def test_webhook_id_of_an_exchange_raises_and_leaves_no_call_behind():
    call_and_exchange_insert(*a_new_call_and_its_exchange("call_1"), webhook_id="msg_answer")

    with pytest.raises(IntegrityError):
        # The same webhook-id for another call: only a forged or unsigned request.
        call_and_exchange_insert(*a_new_call_and_its_exchange("call_2"), webhook_id="msg_answer")

    assert list(Call.objects.values_list("minivoice_id", flat=True)) == ["call_1"]
    assert AnswerExchange.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
@pytest.mark.django_db(transaction=True)
def test_request_path_statements_are_prepared_after_five_runs_and_still_read_back_the_same():
    for n in range(7):
        WebhookEvent.objects.filter(webhook_id="msg_absent").exists()  # the ORM's own
        insert_row(a_delivery(f"msg_{n}"))
        call_and_exchange_insert(
            *a_new_call_and_its_exchange(f"call_{n}", f"msg_a{n}"), webhook_id=f"msg_a{n}"
        )

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]

    assert any(s.startswith('INSERT INTO "calls_webhookevent"') for s in prepared)
    assert any(s.startswith("WITH new_call AS") for s in prepared)
    assert any(s.startswith("SELECT") for s in prepared)  # the ORM's too: the connection's
    event = a_delivery("msg_last")
    insert_row(event)
    assert stored_fields(WebhookEvent.objects.get(pk=event.pk)) == stored_fields(event)
    call, exchange = a_new_call_and_its_exchange("call_last", "msg_last_answer")
    call_and_exchange_insert(call, exchange, webhook_id="msg_last_answer")
    assert stored_fields(Call.objects.get(pk=call.pk)) == stored_fields(call)
    assert stored_fields(AnswerExchange.objects.get(pk=exchange.pk)) == stored_fields(exchange)


def _drop_from_the_server_side() -> None:
    """End the connection's backend, as a database restart or a failover would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"],
        host=db["HOST"],
        port=db["PORT"] or None,
        user=db["USER"],
        password=db["PASSWORD"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def _an_event_insert(webhook_id: str) -> bool:
    return insert_row(a_delivery(webhook_id), ignore_conflicts=True)


def _an_event_insert_that_raises_on_conflict(webhook_id: str) -> bool:
    return insert_row(a_delivery(webhook_id))


def _a_new_call_and_exchange_insert(webhook_id: str) -> bool:
    call, exchange = a_new_call_and_its_exchange(f"call_{webhook_id}", webhook_id)
    return call_and_exchange_insert(call, exchange, webhook_id=webhook_id)


def _a_known_call_s_answer(webhook_id: str) -> bool:
    """The answer_url's general path: lock the call, update it, log the exchange."""
    _, exchange = a_new_call_and_its_exchange("call_known", webhook_id)
    with transaction.atomic():
        call, _ = call_create_or_lock(Call(minivoice_id="call_known"), webhook_id=webhook_id)
        update_row(call)
        exchange.call = call
        return insert_row(exchange, ignore_conflicts=True)


REQUEST_PATH_WRITES = {
    "event, conflicts ignored": _an_event_insert,
    "event, conflicts raise": _an_event_insert_that_raises_on_conflict,
    "new call and exchange": _a_new_call_and_exchange_insert,
    "known call, in a transaction": _a_known_call_s_answer,
}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a server-side connection loss")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", REQUEST_PATH_WRITES)
def test_a_connection_the_database_dropped_is_replaced_and_the_write_still_stored_once(
    name, settings
):
    """After a database restart or failover, each persistent connection is dead. The
    request's first statement must not fail on it (a 500 for a delivery, the apology for
    a caller): a keyed write that is the request's first is the connection check itself
    and runs again on a new connection; any other statement or transaction has Django's
    check (CONN_HEALTH_CHECKS) replace the connection first. Either way it runs once."""
    Call.objects.create(minivoice_id="call_known")
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"]
    _drop_from_the_server_side()
    close_old_connections()  # what every request starts with: the check is due again

    assert REQUEST_PATH_WRITES[name]("msg_after_drop")

    stored = WebhookEvent.objects.filter(webhook_id="msg_after_drop").count()
    stored += AnswerExchange.objects.filter(webhook_id="msg_after_drop").count()
    assert stored == 1


@pytest.mark.django_db(transaction=True)
def test_django_s_health_check_is_still_due_where_we_take_its_place(settings, monkeypatch):
    """calls.rows reads and sets two private attributes of Django's connection
    (`_stands_in_for_the_health_check`): this fails if Django changes what they mean."""
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"]
    connection.ensure_connection()
    close_old_connections()  # what every request starts with
    assert connection.health_check_enabled is True
    assert connection.health_check_done is False  # due before the request's first query
    checks = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or is_usable())

    Call.objects.exists()  # any query of Django's own runs the check, once
    Call.objects.exists()

    assert checks == [1]
    assert connection.health_check_done is True


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the check stood in for")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["event, conflicts ignored", "new call and exchange"])
def test_a_request_s_first_keyed_write_is_its_own_connection_check(name, monkeypatch):
    connection.ensure_connection()
    close_old_connections()
    checks = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or is_usable())

    assert REQUEST_PATH_WRITES[name]("msg_checked")
    Call.objects.exists()  # and Django's own check is not run after it either

    assert checks == []


# -- Columns the database fills -----------------------------------------------------------

with isolate_apps("calls"):

    class Filled(models.Model):
        """Test-only, its table made for one test: the project's models have no column
        the database fills, but a new one must need no edit in calls.rows."""

        label = models.CharField(max_length=32)
        shout = models.GeneratedField(
            expression=Upper("label"), output_field=models.CharField(max_length=32), db_persist=True
        )
        noted_at = models.DateTimeField(db_default=Now())
        weight = models.IntegerField(db_default=7)
        preset = models.IntegerField(default=1, db_default=2)  # Python's default first

        class Meta:
            app_label = "calls"

        def __str__(self) -> str:
            return self.label


@pytest.fixture
def filled_table(transactional_db):
    with connection.schema_editor() as editor:
        editor.create_model(Filled)
    yield
    with connection.schema_editor() as editor:
        editor.delete_model(Filled)


def test_an_insert_writes_neither_generated_columns_nor_database_defaults():
    """As `save()` on a new row: a generated column is the database's, and so is one
    with a `db_default`, unless a Python `default` takes precedence. An UPDATE writes all
    but the generated ones (and the primary key)."""
    assert [f.name for f in inserted(Filled)] == ["label", "preset"]
    assert [f.name for f in updated(Filled)] == ["label", "noted_at", "weight", "preset"]


@pytest.mark.usefixtures("filled_table")
def test_columns_the_database_fills_are_left_to_it_and_read_back():
    row = Filled(label="zoe")

    assert insert_row(row) is True

    assert (row.shout, row.weight, row.preset) == ("ZOE", 7, 1)
    assert row.noted_at.utcoffset() == timedelta(0)
    assert not row._state.adding
    assert stored_fields(Filled.objects.get()) == stored_fields(row)


@pytest.mark.usefixtures("filled_table")
def test_an_update_writes_the_database_s_defaults_but_not_generated_columns():
    row = Filled(label="zoe")
    insert_row(row)
    row.label, row.weight = "ada", 9

    update_row(row)

    stored = Filled.objects.get()
    assert (stored.label, stored.shout, stored.weight) == ("ada", "ADA", 9)
    assert stored.noted_at == row.noted_at


@pytest.mark.usefixtures("filled_table")
def test_a_value_given_for_a_column_the_database_fills_is_refused_not_dropped():
    with pytest.raises(ValueError, match="weight"):
        insert_row(Filled(label="zoe", weight=9))

    assert not Filled.objects.exists()
