"""Row writes for the request path, in fewer statements and less Python than the ORM's.

Profiled under load (bench/README.md), answer_url and intake spend most of their Python
time compiling ORM queries that are the same on every request. The statements here are
built once from the model's own fields (a new column needs no edit here) and then only
take parameters, prepared exactly as the ORM prepares them (`get_db_prep_save`), so a
row reads back the same whichever way it was written. They skip `save()`'s signals:
these models have no receivers. PostgreSQL and SQLite alike (SQLite 3.35+ has
ON CONFLICT … RETURNING). On PostgreSQL they are also prepared once per connection
(`_cursor`), so the server does not parse and plan them again on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorWrapper

from calls.models import REVISION_ROW, AnswerExchange, Call, FlowsRevision, WebhookEvent


def insert_row(obj: models.Model, *, ignore_conflicts: bool = False) -> bool:
    """INSERT `obj` and set its primary key, in one round trip; True if stored.

    With `ignore_conflicts`, a row that would break a unique constraint is not stored
    and False is returned: no IntegrityError, so no savepoint is needed around it. The
    caller's row must then have a unique key (an event's webhook-id, an answer's), so
    that running it again stores nothing: it may be the request's connection check
    (`_first_row`).
    """
    connection = _connection()
    sql = _insert_sql(type(obj), connection.vendor, ignore_conflicts=ignore_conflicts)
    row = _first_row(connection, sql, _insert_params(obj, connection), repeatable=ignore_conflicts)
    if row is None:
        return False
    _stored(obj, row[0], connection)
    return True


def update_row(obj: models.Model) -> None:
    """UPDATE every column of a stored `obj` (as `obj.save()` does, auto_now included)."""
    connection = _connection()
    fields = _written_fields(type(obj))
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in fields]
    _first_row(
        connection, _update_sql(type(obj), connection.vendor), [*params, obj.pk], fetch=False
    )


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
    connection = _connection()
    params = [*_insert_params(new, connection), webhook_id]
    *values, event_has_id = _first_row(connection, _call_upsert_sql(connection.vendor), params)
    return _call_from_db(values, connection), bool(event_has_id)


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
    connection = _connection()
    call_params = [
        *_insert_params(call, connection),
        webhook_id,
        webhook_id,
        flows_revision,
        flows_revision,
    ]
    if connection.vendor == "postgresql":
        exchange_params = _insert_params(exchange, connection, leave_out=_EXCHANGE_CALL)
        with _on_its_own(connection):
            # A repeat stores nothing twice: the call is there (its MiniVoice id), and the
            # general path finds the exchange by its webhook-id.
            row = _first_row(
                connection,
                _call_and_exchange_sql(),
                [*call_params, *exchange_params],
                repeatable=bool(webhook_id),
            )
        if row is None:
            return False
        call_pk, exchange_pk = row
    else:
        with transaction.atomic(using=connection.alias):
            row = _first_row(connection, _new_call_sql(connection.vendor), call_params)
            if row is None:
                return False
            call_pk, exchange.call_id = row[0], row[0]
            insert_row(exchange)
            exchange_pk = exchange.pk
    _stored(call, call_pk, connection)
    exchange.call = call
    _stored(exchange, exchange_pk, connection)
    return True


_EXCHANGE_CALL = AnswerExchange._meta.get_field("call")


def _stored(obj: models.Model, pk: int, connection: BaseDatabaseWrapper) -> None:
    obj.pk = pk
    obj._state.adding, obj._state.db = False, connection.alias


def _on_its_own(connection: BaseDatabaseWrapper):
    """A savepoint when inside a transaction, so that a statement that fails does not
    abort it; nothing in autocommit, where each statement is its own transaction."""
    if connection.in_atomic_block:
        return transaction.atomic(using=connection.alias)
    return nullcontext()


def _first_row(
    connection: BaseDatabaseWrapper,
    sql: str,
    params: list,
    *,
    repeatable: bool = False,
    fetch: bool = True,
) -> tuple | None:
    """Run one of the statements here; its first row (with `fetch`), or None.

    Django checks a persistent connection before each request's first query
    (CONN_HEALTH_CHECKS): a `SELECT 1`, one more round trip for MiniVoice to wait on,
    every request. A `repeatable` statement, one that stores nothing twice when run
    again, is the check itself instead: if it is the request's first query and finds
    the connection dropped (a database restart, a failover), the connection is replaced
    and the statement run once more, which is what Django's check would have done
    before it. Only on PostgreSQL and outside a transaction; otherwise, and for any
    other statement, Django's check runs first as usual (`_cursor`).
    """
    checks_itself = (
        repeatable
        and connection.vendor == "postgresql"
        and connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    )
    if checks_itself:
        connection.health_check_done = True
    try:
        return _run(connection, sql, params, fetch=fetch)
    except OperationalError:
        if not (checks_itself and _dropped(connection)):
            raise
    connection.close()
    return _run(connection, sql, params, fetch=fetch)


def _run(connection: BaseDatabaseWrapper, sql: str, params: list, *, fetch: bool) -> tuple | None:
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if fetch else None


def _dropped(connection: BaseDatabaseWrapper) -> bool:
    """Whether the server side of the connection is gone (psycopg knows once it failed)."""
    return connection.connection is None or connection.connection.broken


def _cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor for the statements here, which run on every request.

    On PostgreSQL it binds parameters on the server (psycopg's `Cursor`; Django's default
    quotes them into the SQL text in Python), so psycopg prepares each statement on its
    connection once it has run `prepare_threshold` times (5, from the settings;
    `DATABASE_PREPARED_STATEMENTS=false` turns it off): from then on PostgreSQL skips
    parsing and planning it, and Python skips quoting its values. Django's own wrapper
    goes around it (`_prepare_cursor`), so errors, query logging and `execute_wrapper`
    behave as for any other cursor; and the steps before it are Django's own
    (`BaseDatabaseWrapper._cursor`), the connection's health check first: a persistent
    connection the database dropped is replaced, not used for one failing request.
    """
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(ServerBindingCursor(connection.connection))


def _connection() -> BaseDatabaseWrapper:
    """The connection itself: `django.db.connection` is a proxy that looks it up again
    on every attribute, and preparing one row's values reads it dozens of times."""
    return connections[DEFAULT_DB_ALIAS]


def _written_fields(model: type[models.Model]) -> list[models.Field]:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def _insert_params(
    obj: models.Model, connection: BaseDatabaseWrapper, *, leave_out: models.Field | None = None
) -> list:
    return [
        prepare(obj, connection)
        for field, prepare in _preparers(type(obj), connection.vendor)
        if field is not leave_out
    ]


Preparer = Callable[[models.Model, BaseDatabaseWrapper], Any]


@cache
def _preparers(model: type[models.Model], vendor: str) -> list[tuple[models.Field, Preparer]]:
    """Per written field, how a new row's value is prepared: as the ORM prepares it
    (`get_db_prep_save(pre_save(obj, add=True))`), with a shortcut where that chain is
    known to hand the value back as it is. The request path writes some thirty values,
    and the chain costs a few microseconds each."""
    return [(field, _preparer(field, vendor)) for field in _written_fields(model)]


def _preparer(field: models.Field, vendor: str) -> Preparer:
    def as_the_orm_does(obj: models.Model, connection: BaseDatabaseWrapper) -> Any:
        return field.get_db_prep_save(field.pre_save(obj, True), connection)

    passes_through = _passes_through(field, vendor)
    if passes_through is None:
        return as_the_orm_does
    attname = field.attname

    def shortcut(obj: models.Model, connection: BaseDatabaseWrapper) -> Any:
        value = getattr(obj, attname)
        return value if passes_through(value) else as_the_orm_does(obj, connection)

    return shortcut


def _passes_through(field: models.Field, vendor: str) -> Callable[[Any], bool] | None:
    """Which values `field`'s preparation returns unchanged, if that is known: text in a
    text field; None or an aware time in a time field that sets no time of its own, on
    PostgreSQL (SQLite's driver takes times as text). Exact classes only: a subclass may
    prepare its values differently."""
    if type(field) in (models.CharField, models.TextField):
        return lambda value: type(value) is str
    if (
        type(field) is models.DateTimeField
        and vendor == "postgresql"
        and not (field.auto_now or field.auto_now_add)
    ):
        return lambda value: value is None or (type(value) is datetime and value.tzinfo is not None)
    return None


# Cached per database vendor: quoting and the dialect differ, the model's fields do not.


@cache
def _insert_sql(model: type[models.Model], vendor: str, *, ignore_conflicts: bool) -> str:
    quote = _connection().ops.quote_name
    columns = [quote(f.column) for f in _written_fields(model)]
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
        f"{' ON CONFLICT DO NOTHING' if ignore_conflicts else ''} "
        f"RETURNING {quote(model._meta.pk.column)}"
    )


@cache
def _update_sql(model: type[models.Model], vendor: str) -> str:
    quote = _connection().ops.quote_name
    assignments = [f"{quote(f.column)} = %s" for f in _written_fields(model)]
    return (
        f"UPDATE {quote(model._meta.db_table)} SET {', '.join(assignments)} "
        f"WHERE {quote(model._meta.pk.column)} = %s"
    )


@cache
def _call_upsert_sql(vendor: str) -> str:
    quote = _connection().ops.quote_name
    insert = _insert_sql(Call, vendor, ignore_conflicts=False).partition(" RETURNING ")[0]
    table = quote(Call._meta.db_table)
    key = quote(Call._meta.get_field("minivoice_id").column)
    returned = [f"{table}.{quote(f.column)}" for f in Call._meta.concrete_fields]
    return (
        f"{insert} ON CONFLICT ({key}) DO UPDATE SET {key} = EXCLUDED.{key} "
        f"RETURNING {', '.join(returned)}, {_an_event_has_the_webhook_id()}"
    )


def _an_event_has_the_webhook_id() -> str:
    """SQL: whether a stored webhook event has the webhook-id given as a parameter (one
    webhook-id namespace across both endpoints)."""
    quote = _connection().ops.quote_name
    events = quote(WebhookEvent._meta.db_table)
    event_key = quote(WebhookEvent._meta.get_field("webhook_id").column)
    return f"EXISTS (SELECT 1 FROM {events} WHERE {event_key} = %s)"


@cache
def _new_call_sql(vendor: str) -> str:
    """INSERT a call unless its MiniVoice id is stored, a webhook event has the webhook-id
    given next (given twice: an empty one is never looked for), or the flows revision is
    not the one given last (given twice: -1 is never compared). The revision is one row
    read by its key, in the statement that runs anyway: how each process learns, at no
    cost, that its copy of the flows is stale (`calls.flows.live`)."""
    quote = _connection().ops.quote_name
    fields = _written_fields(Call)
    revision = quote(FlowsRevision._meta.get_field("revision").column)
    revisions = quote(FlowsRevision._meta.db_table)
    revision_key = quote(FlowsRevision._meta.pk.column)
    return (
        f"INSERT INTO {quote(Call._meta.db_table)} "
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT {', '.join(['%s'] * len(fields))} "
        f"WHERE (%s = '' OR NOT {_an_event_has_the_webhook_id()}) "
        f"AND (%s < 0 OR (SELECT {revision} FROM {revisions} "
        f"WHERE {revision_key} = {REVISION_ROW}) = %s) "
        f"ON CONFLICT ({quote(Call._meta.get_field('minivoice_id').column)}) DO NOTHING "
        f"RETURNING {quote(Call._meta.pk.column)}"
    )


@cache
def _call_and_exchange_sql() -> str:
    """PostgreSQL: `_new_call_sql` and the exchange's INSERT in one statement. The
    exchange takes the new call's id, so it is inserted only if the call was."""
    connection = _connection()
    quote = connection.ops.quote_name
    call_id = f"new_call.{quote(Call._meta.pk.column)}"
    fields = _written_fields(AnswerExchange)
    return (
        f"WITH new_call AS ({_new_call_sql(connection.vendor)}) "
        f"INSERT INTO {quote(AnswerExchange._meta.db_table)} "
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT {', '.join(call_id if f is _EXCHANGE_CALL else '%s' for f in fields)} "
        f"FROM new_call "
        f"RETURNING {quote(_EXCHANGE_CALL.column)}, {quote(AnswerExchange._meta.pk.column)}"
    )


def _call_from_db(values: list, connection: BaseDatabaseWrapper) -> Call:
    """A Call from a row of its concrete fields, converted as the ORM converts a SELECT's
    (SQLite returns times as text, for one)."""
    names, converters = _call_converters(connection.vendor)
    for position, (functions, expression) in converters:
        for convert in functions:
            values[position] = convert(values[position], expression, connection)
    return Call.from_db(connection.alias, names, values)


@cache
def _call_converters(vendor: str) -> tuple[list[str], list]:
    fields = Call._meta.concrete_fields
    connection = _connection()
    compiler = connection.ops.compiler("SQLCompiler")(Call.objects.none().query, connection, None)
    converters = compiler.get_converters([f.get_col(Call._meta.db_table) for f in fields])
    return [f.attname for f in fields], list(converters.items())
