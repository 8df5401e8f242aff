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
was checked against, each with a test that fails if it changes: `_converters` (a row
read back as the ORM converts a SELECT's) and `_stands_in_for_the_health_check`. On
PostgreSQL the settings turn on server-side binding, and psycopg
prepares each statement once it has run `prepare_threshold` times on a connection: the
server does not parse and plan them again on every request. PostgreSQL and SQLite alike
(SQLite 3.35+ has ON CONFLICT … RETURNING).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, models, transaction

from calls.models import AnswerExchange, Call, WebhookEvent

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

ALIAS = DEFAULT_DB_ALIAS


def insert_row(obj: models.Model, *, ignore_conflicts: bool = False) -> bool:
    """INSERT `obj` and set its primary key (and any value the database filled), in one
    round trip; True if stored.

    With `ignore_conflicts`, a row that would break a unique constraint is not stored
    and False is returned: no IntegrityError, so no savepoint is needed around it.
    """
    connection = _connection()
    model = type(obj)
    row = _first_row(
        connection,
        _insert_sql(model, ignore_conflicts=ignore_conflicts),
        _insert_params(obj, connection),
        repeatable=ignore_conflicts,
    )
    if row is None:
        return False
    _stored(obj, row, connection)
    return True


def update_row(obj: models.Model) -> None:
    """UPDATE every column of a stored `obj` but generated ones, as `obj.save()` does
    (auto_now included)."""
    connection = _connection()
    model = type(obj)
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in _updated(model)]
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(model), [*params, obj.pk])


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
    *values, event_has_id = _first_row(connection, _call_upsert_sql(), params)
    values = _as_the_orm_reads(Call, _columns(Call), values, connection)
    return Call.from_db(ALIAS, [f.attname for f in _columns(Call)], values), bool(event_has_id)


def call_and_exchange_insert(call: Call, exchange: AnswerExchange, *, webhook_id: str) -> bool:
    """Store a new `call` and its first answer `exchange` together; True if stored.

    Nothing is stored, and False is returned, when a call with its MiniVoice id exists or
    a stored webhook event has `webhook_id`: the caller then takes the general path
    (`call_create_or_lock`). Raises IntegrityError, storing nothing, if an exchange has
    `webhook_id` already.

    The answer_url's usual request is a call's first, and its call row is known in full
    before anything is written (the transitions ran on it in memory). On PostgreSQL the
    two rows go in one statement, the exchange's INSERT taking the call's new id from the
    call's: one round trip, atomic without BEGIN and COMMIT. SQLite has no INSERT inside
    WITH, so there it is two statements in a transaction.
    """
    connection = _connection()
    call_params = [*_insert_params(call, connection), webhook_id, webhook_id]
    if connection.vendor == "postgresql":
        exchange_params = _insert_params(exchange, connection, leave_out=_EXCHANGE_CALL)
        with _on_its_own():
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
        split = len(_returned(Call))
        _stored(call, row[:split], connection)
        exchange.call = call
        _stored(exchange, row[split:], connection)
        return True
    with transaction.atomic(using=ALIAS):
        row = _first_row(connection, _new_call_sql(), call_params)
        if row is None:
            return False
        _stored(call, row, connection)
        exchange.call = call
        insert_row(exchange)
    return True


_EXCHANGE_CALL = AnswerExchange._meta.get_field("call")


def _stored(obj: models.Model, row: tuple, connection: BaseDatabaseWrapper) -> None:
    """Mark `obj` as stored, with the values the database filled in (its primary key
    among them), as `save()` leaves an instance."""
    model = type(obj)
    returned = _returned(model)
    values = _as_the_orm_reads(model, returned, row, connection)
    for field, value in zip(returned, values, strict=True):
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


def _connection() -> BaseDatabaseWrapper:
    """The connection itself: `django.db.connection` is a proxy that looks it up again
    on every attribute, and preparing one row's values reads it dozens of times."""
    return connections[ALIAS]


# -- Which columns are written and read ---------------------------------------------------


@cache
def _columns(model: type[models.Model]) -> list[models.Field]:
    """Every column of `model`, in the order `Model.from_db` takes their values."""
    return [f for f in model._meta.get_fields() if f.concrete and not f.many_to_many]


@cache
def _updated(model: type[models.Model]) -> list[models.Field]:
    """The columns an UPDATE writes: all but the primary key and generated fields."""
    return [
        f for f in _columns(model) if not f.primary_key and not isinstance(f, models.GeneratedField)
    ]


@cache
def _inserted(model: type[models.Model]) -> list[models.Field]:
    """The columns an INSERT writes: those an UPDATE writes, less the ones the database
    fills, as for `save()` (a `db_default`, and no `default` to take precedence)."""
    return [f for f in _updated(model) if not _database_fills(f)]


def _database_fills(field: models.Field) -> bool:
    return field.has_db_default() and not field.has_default()


@cache
def _returned(model: type[models.Model]) -> list[models.Field]:
    """The columns an INSERT reads back: the primary key and what the database filled."""
    inserted = _inserted(model)
    return [f for f in _columns(model) if f not in inserted]


@cache
def _defaults_of_the_database(model: type[models.Model]) -> list[models.Field]:
    return [f for f in _returned(model) if _database_fills(f)]


def _as_the_orm_reads(
    model: type[models.Model], fields: list, values: Sequence, connection: BaseDatabaseWrapper
) -> Sequence:
    converters = _converters(model, connection.vendor)
    if not converters:  # no column of the model needs one (the usual case on PostgreSQL)
        return values
    return [
        converters[f](value, connection) if f in converters else value
        for f, value in zip(fields, values, strict=True)
    ]


@cache
def _converters(model: type[models.Model], vendor: str) -> dict[models.Field, Callable]:
    """For each column of `model` whose value needs it, how the ORM converts a value the
    database driver returns (SQLite's are naive times, for one; a field's documented
    `from_db_value`): `convert(value, connection)`.

    Private Django API, checked against Django 5.2.19: a compiler's `get_converters` and
    the converters' calling convention. The documented route, `Model.objects.raw()`,
    applies the same converters but builds a compiler and a RawQuerySet on every call: 90
    (SQLite) to 120 (PostgreSQL) µs more CPU per call_create_or_lock, about half again
    what it costs. Kept to this one function;
    `test_a_call_read_back_by_create_or_lock_is_what_the_orm_reads` and
    `test_columns_the_database_fills_are_left_to_it_and_read_back` fail if it changes.
    """
    connection = _connection()
    query = model._default_manager.none().query
    compiler = connection.ops.compiler("SQLCompiler")(query, connection, ALIAS)
    columns = _columns(model)
    found = compiler.get_converters([f.get_col(model._meta.db_table) for f in columns])

    def chained(functions: list, expression: Any) -> Callable:
        def convert(value: Any, connection: BaseDatabaseWrapper) -> Any:
            for function in functions:
                value = function(value, expression, connection)
            return value

        return convert

    return {columns[i]: chained(functions, col) for i, (functions, col) in found.items()}


# -- Preparing values ---------------------------------------------------------------------


def _insert_params(
    obj: models.Model, connection: BaseDatabaseWrapper, *, leave_out: models.Field | None = None
) -> list:
    model = type(obj)
    for field in _defaults_of_the_database(model):
        # Django sets an expression (the database's default) where no value was given; a
        # value given would be lost, so it is refused rather than dropped.
        if not hasattr(getattr(obj, field.attname), "as_sql"):
            raise ValueError(f"{model.__name__}.{field.name} is the database's to fill")
    return [
        prepare(obj, connection)
        for field, prepare in _preparers(model, connection.vendor)
        if field is not leave_out
    ]


Preparer = Callable[[models.Model, "BaseDatabaseWrapper"], Any]


@cache
def _preparers(model: type[models.Model], vendor: str) -> list[tuple[models.Field, Preparer]]:
    """Per written field, how a new row's value is prepared: as the ORM prepares it
    (`get_db_prep_save(pre_save(obj, add=True))`), with a shortcut where that chain is
    known to hand the value back as it is. The request path writes some thirty values,
    and the chain costs a few microseconds each."""
    return [(field, _preparer(field, vendor)) for field in _inserted(model)]


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


# -- The statements, built once (standard SQL quoting: the same text on both databases) --


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(model: type[models.Model]) -> str:
    return _quoted(model._meta.db_table)


def _names(fields: list[models.Field], prefix: str = "") -> str:
    return ", ".join(prefix + _quoted(f.column) for f in fields)


def _primary_key(model: type[models.Model]) -> models.Field:
    return next(f for f in _columns(model) if f.primary_key)


@cache
def _insert_sql(model: type[models.Model], *, ignore_conflicts: bool) -> str:
    fields = _inserted(model)
    return (
        f"INSERT INTO {_table(model)} ({_names(fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
        f"{' ON CONFLICT DO NOTHING' if ignore_conflicts else ''} "
        f"RETURNING {_names(_returned(model))}"
    )


@cache
def _update_sql(model: type[models.Model]) -> str:
    assignments = ", ".join(f"{_quoted(f.column)} = %s" for f in _updated(model))
    return (
        f"UPDATE {_table(model)} SET {assignments} WHERE {_quoted(_primary_key(model).column)} = %s"
    )


@cache
def _call_upsert_sql() -> str:
    insert = _insert_sql(Call, ignore_conflicts=False).partition(" RETURNING ")[0]
    key = _quoted(Call._meta.get_field("minivoice_id").column)
    return (
        f"{insert} ON CONFLICT ({key}) DO UPDATE SET {key} = EXCLUDED.{key} "
        f"RETURNING {_names(_columns(Call), f'{_table(Call)}.')}, "
        f"{_an_event_has_the_webhook_id()}"
    )


def _an_event_has_the_webhook_id() -> str:
    """SQL: whether a stored webhook event has the webhook-id given as a parameter (one
    webhook-id namespace across both endpoints)."""
    event_key = _quoted(WebhookEvent._meta.get_field("webhook_id").column)
    return f"EXISTS (SELECT 1 FROM {_table(WebhookEvent)} WHERE {event_key} = %s)"


@cache
def _new_call_sql() -> str:
    """INSERT a call unless its MiniVoice id is stored, or a webhook event has the
    webhook-id given last (given twice: an empty one is never looked for)."""
    fields = _inserted(Call)
    return (
        f"INSERT INTO {_table(Call)} ({_names(fields)}) "
        f"SELECT {', '.join(['%s'] * len(fields))} "
        f"WHERE %s = '' OR NOT {_an_event_has_the_webhook_id()} "
        f"ON CONFLICT ({_quoted(Call._meta.get_field('minivoice_id').column)}) DO NOTHING "
        f"RETURNING {_names(_returned(Call))}"
    )


@cache
def _call_and_exchange_sql() -> str:
    """PostgreSQL: `_new_call_sql` and the exchange's INSERT in one statement, reading
    back what each INSERT returns. The exchange takes the new call's id, so it is
    inserted only if the call was."""
    call_id = f"new_call.{_quoted(_primary_key(Call).column)}"
    fields = _inserted(AnswerExchange)
    values = ", ".join(call_id if f is _EXCHANGE_CALL else "%s" for f in fields)
    return (
        f"WITH new_call AS ({_new_call_sql()}), "
        f"new_exchange AS (INSERT INTO {_table(AnswerExchange)} ({_names(fields)}) "
        f"SELECT {values} FROM new_call RETURNING {_names(_returned(AnswerExchange))}) "
        f"SELECT {_names(_returned(Call), 'new_call.')}, "
        f"{_names(_returned(AnswerExchange), 'new_exchange.')} FROM new_call, new_exchange"
    )
