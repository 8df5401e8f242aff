"""Row writes for the request path, in fewer statements and less Python than the ORM's.

Profiled under load (bench/README.md), answer_url and intake spend most of their Python
time compiling ORM queries that are the same on every request. The statements here are
built once from the model's own fields (`_meta.get_fields()`: a new column needs no edit
here) and then only take parameters, prepared exactly as the ORM prepares them
(`get_db_prep_save`), so a row reads back the same whichever way it was written. As
`save()` does, an INSERT leaves generated fields and fields with a `db_default` to the
database and reads back what it filled (RETURNING), and an UPDATE writes every column
but generated ones. They skip `save()`'s signals: these models have no receivers.

They run on `connection.cursor()`, so Django's connection handling is theirs too: its
error wrapping, its query logging, and its health check (CONN_HEALTH_CHECKS) before a
request's first query, except where a keyed write is that check itself. Two pieces of
private Django API are left, each in one function that says why and which Django it
was checked against, each with a test that fails if it changes: `converters` (a row
read back as the ORM converts a SELECT's) and `_stands_in_for_the_health_check`. On
PostgreSQL the settings turn on server-side binding, and psycopg
prepares each statement once it has run `prepare_threshold` times on a connection: the
server does not parse and plan them again on every request. PostgreSQL and SQLite alike
(SQLite 3.35+ has ON CONFLICT … RETURNING).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import OperationalError, models, transaction

from calls.models import AnswerExchange, Call
from calls.rows.fields import (
    ALIAS,
    as_the_orm_reads,
    columns,
    connection_in_use,
    insert_params,
    returned,
    updated,
)
from calls.rows.statements import (
    EXCHANGE_CALL,
    call_and_exchange_sql,
    call_read_sql,
    call_upsert_sql,
    follow_up_sql,
    insert_sql,
    new_call_sql,
    update_sql,
)

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


def insert_row(obj: models.Model, *, ignore_conflicts: bool = False) -> bool:
    """INSERT `obj` and set its primary key (and any value the database filled), in one
    round trip; True if stored.

    With `ignore_conflicts`, a row that would break a unique constraint is not stored
    and False is returned: no IntegrityError, so no savepoint is needed around it.
    """
    connection = connection_in_use()
    model = type(obj)
    row = _first_row(
        connection,
        insert_sql(model, ignore_conflicts=ignore_conflicts),
        insert_params(obj, connection),
        repeatable=ignore_conflicts,
    )
    if row is None:
        return False
    _stored(obj, row, connection)
    return True


def update_row(obj: models.Model) -> None:
    """UPDATE every column of a stored `obj` but generated ones, as `obj.save()` does
    (auto_now included)."""
    connection = connection_in_use()
    model = type(obj)
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in updated(model)]
    with connection.cursor() as cursor:
        cursor.execute(update_sql(model), [*params, obj.pk])


def call_create_or_lock(new: Call, *, webhook_id: str) -> tuple[Call, bool]:
    """(call, webhook_id_is_an_event's): `new` inserted, or the stored call with its
    MiniVoice id, locked until the transaction ends; and whether a stored webhook event
    has `webhook_id`.

    One statement, where a lookup, a savepoint and an insert were four round trips:
    `INSERT … ON CONFLICT (minivoice_id) DO UPDATE … RETURNING`. The DO UPDATE changes
    nothing, but it takes the row lock as SELECT … FOR UPDATE would, and it settles a race
    of two first requests for one call: the second waits for the first to commit, then
    locks and returns its row. The webhook-id question rides along because the answer_url
    must ask it on every request (one webhook-id namespace across both endpoints) and the
    answer is needed in the same transaction: a second round trip would buy nothing.

    Must run inside a transaction (the lock lasts until it ends).
    """
    connection = connection_in_use()
    params = [*insert_params(new, connection), webhook_id]
    *values, event_has_id = _first_row(connection, call_upsert_sql(), params)
    values = as_the_orm_reads(Call, columns(Call), values, connection)
    return Call.from_db(ALIAS, [f.attname for f in columns(Call)], values), bool(event_has_id)


def call_and_exchange_insert(
    call: Call, exchange: AnswerExchange, *, webhook_id: str, flows_revision: int = -1
) -> bool:
    """Store a new `call` and its first answer `exchange` together; True if stored.

    Nothing is stored, and False is returned, when a call with its MiniVoice id exists, a
    stored webhook event has `webhook_id`, or the flows revision is not `flows_revision`
    (the answer was chosen from a stale copy of the flows; -1: not chosen from them): the
    caller then takes the general path (`call_create_or_lock`). Raises IntegrityError,
    storing nothing, if an exchange has `webhook_id` already.

    The answer_url's usual request is a call's first, and its call row is known in full
    before anything is written (the transitions ran on it in memory). On PostgreSQL the
    two rows go in one statement, the exchange's INSERT taking the call's new id from the
    call's: one round trip, atomic without BEGIN and COMMIT. SQLite has no INSERT inside
    WITH, so there it is two statements in a transaction.
    """
    connection = connection_in_use()
    call_params = [
        *insert_params(call, connection),
        webhook_id,
        webhook_id,
        flows_revision,
        flows_revision,
    ]
    if connection.vendor == "postgresql":
        exchange_params = insert_params(exchange, connection, leave_out=EXCHANGE_CALL)
        with _on_its_own():
            # A repeat stores nothing twice: the call is there (its MiniVoice id), and the
            # general path finds the exchange by its webhook-id.
            row = _first_row(
                connection,
                call_and_exchange_sql(),
                [*call_params, *exchange_params],
                repeatable=bool(webhook_id),
            )
        if row is None:
            return False
        split = len(returned(Call))
        _stored(call, row[:split], connection)
        exchange.call = call
        _stored(exchange, row[split:], connection)
        return True
    with transaction.atomic(using=ALIAS):
        row = _first_row(connection, new_call_sql(), call_params)
        if row is None:
            return False
        _stored(call, row, connection)
        exchange.call = call
        insert_row(exchange)
    return True


@dataclass(frozen=True)
class StoredCall:
    """A call as read for a follow-up, with what `follow_up_insert` checks."""

    call: Call
    version: str  # PostgreSQL's xmin of the row read
    webhook_id_is_an_event_s: bool


def call_read(minivoice_id: str, *, webhook_id: str) -> StoredCall | None:
    """PostgreSQL, outside a transaction: the stored call with this MiniVoice id, or None
    (no such call, or another database: the general path serves those).

    With `follow_up_insert`, a follow-up (a call's request after a collect or a redirect)
    is two round trips where BEGIN, the connection check, the locking upsert, the UPDATE,
    the INSERT and COMMIT were six: most answer_url requests of a flow are follow-ups.
    The read stores nothing, so it is the request's connection check when it is its
    first query (`_first_row`).
    """
    connection = connection_in_use()
    if connection.vendor != "postgresql" or not transaction.get_autocommit(using=ALIAS):
        return None
    row = _first_row(connection, call_read_sql(), [webhook_id, minivoice_id], repeatable=True)
    if row is None:
        return None
    *values, version, event_has_id = row
    values = as_the_orm_reads(Call, columns(Call), values, connection)
    call = Call.from_db(ALIAS, [f.attname for f in columns(Call)], values)
    return StoredCall(call=call, version=version, webhook_id_is_an_event_s=bool(event_has_id))


def follow_up_insert(stored: StoredCall, exchange: AnswerExchange) -> bool:
    """Store `exchange` and `stored.call` (changed in memory since `call_read`) in one
    statement; True if stored. Nothing is stored, and False is returned, if the call row
    changed since it was read (another request of the call got there first) or an
    exchange has the webhook-id: the caller then takes the general path, which locks the
    call and answers from what is stored."""
    connection = connection_in_use()
    call = stored.call
    call_params = [f.get_db_prep_save(f.pre_save(call, False), connection) for f in updated(Call)]
    exchange_params = insert_params(exchange, connection, leave_out=EXCHANGE_CALL)
    row = _fetch_one(
        connection, follow_up_sql(), [call.pk, stored.version, *exchange_params, *call_params]
    )
    if row is None:
        return False
    exchange.call = call
    _stored(exchange, row[:-1], connection)
    return True


def _stored(obj: models.Model, row: tuple, connection: BaseDatabaseWrapper) -> None:
    """Mark `obj` as stored, with the values the database filled in (its primary key
    among them), as `save()` leaves an instance."""
    model = type(obj)
    filled = returned(model)
    values = as_the_orm_reads(model, filled, row, connection)
    for field, value in zip(filled, values, strict=True):
        setattr(obj, field.attname, value)
    obj._state.adding, obj._state.db = False, ALIAS


def _on_its_own() -> AbstractContextManager:
    """A savepoint when inside a transaction, so that a statement that fails does not
    abort it; nothing in autocommit, where each statement is its own transaction."""
    if transaction.get_autocommit(using=ALIAS):
        return nullcontext()
    return transaction.atomic(using=ALIAS)


def _first_row(
    connection: BaseDatabaseWrapper, sql: str, params: list, *, repeatable: bool = False
) -> tuple | None:
    """Run one of the statements here; its first row, or None.

    A `repeatable` statement stores nothing twice when run again (a keyed
    `ON CONFLICT`). When it is a request's first, it is the connection's health check
    itself (`_stands_in_for_the_health_check`): if it finds the connection dropped (a
    database restart, a failover), the connection is replaced and the statement run
    once more, which is what Django's check would have done before it.
    """
    if not (repeatable and _stands_in_for_the_health_check(connection)):
        return _fetch_one(connection, sql, params)
    try:
        return _fetch_one(connection, sql, params)
    except OperationalError:
        if connection.connection is not None and not connection.connection.broken:
            raise  # the connection is fine: the statement itself failed
    connection.close()  # the next cursor connects anew
    return _fetch_one(connection, sql, params)


def _fetch_one(connection: BaseDatabaseWrapper, sql: str, params: list) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _stands_in_for_the_health_check(connection: BaseDatabaseWrapper) -> bool:
    """Whether a repeatable statement is to be this request's connection check, marking
    Django's own check as done if so.

    With CONN_HEALTH_CHECKS, Django runs `SELECT 1` before a request's first query on a
    persistent connection: one more round trip for MiniVoice to wait on, every request,
    and 80-220 µs of a worker's CPU (bench/LOG.md, "calls/rows.py on documented Django
    API"), which takes the answer_url below its target. Only on PostgreSQL (psycopg says
    when a connection is `broken`) and outside a transaction (nothing else of the
    request to undo).

    The one piece of private Django API on the request path: `health_check_enabled` and
    `health_check_done` of the connection, as `BaseDatabaseWrapper` sets and reads them
    in Django 5.2.19. `test_rows.py`'s `test_django_s_health_check_is_still_due_where_we_
    take_its_place` fails if their meaning changes.
    """
    if not (
        connection.vendor == "postgresql"
        and connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and transaction.get_autocommit(using=ALIAS)
    ):
        return False
    connection.health_check_done = True
    return True
