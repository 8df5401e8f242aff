"""Row writes for the request path, in fewer statements and less Python than the ORM's.

Profiled under load (bench/README.md), answer_url and intake spend most of their Python
time compiling ORM queries that are the same on every request. The statements here are
built once from the model's own fields (a new column needs no edit here) and then only
take parameters, prepared exactly as the ORM prepares them (`get_db_prep_save`), so a
row reads back the same whichever way it was written. They skip `save()`'s signals:
these models have no receivers. PostgreSQL and SQLite alike (SQLite 3.35+ has
ON CONFLICT … RETURNING).
"""

from __future__ import annotations

from functools import cache

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from calls.models import Call, WebhookEvent


def insert_row(obj: models.Model, *, ignore_conflicts: bool = False) -> bool:
    """INSERT `obj` and set its primary key, in one round trip; True if stored.

    With `ignore_conflicts`, a row that would break a unique constraint is not stored
    and False is returned: no IntegrityError, so no savepoint is needed around it.
    """
    connection = _connection()
    sql = _insert_sql(type(obj), connection.vendor, ignore_conflicts=ignore_conflicts)
    with connection.cursor() as cursor:
        cursor.execute(sql, _insert_params(obj, connection))
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding, obj._state.db = False, connection.alias
    return True


def update_row(obj: models.Model) -> None:
    """UPDATE every column of a stored `obj` (as `obj.save()` does, auto_now included)."""
    connection = _connection()
    fields = _written_fields(type(obj))
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(type(obj), connection.vendor), [*params, obj.pk])


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
    with connection.cursor() as cursor:
        cursor.execute(_call_upsert_sql(connection.vendor), params)
        *values, event_has_id = cursor.fetchone()
    return _call_from_db(values, connection), bool(event_has_id)


def _connection() -> BaseDatabaseWrapper:
    """The connection itself: `django.db.connection` is a proxy that looks it up again
    on every attribute, and preparing one row's values reads it dozens of times."""
    return connections[DEFAULT_DB_ALIAS]


def _written_fields(model: type[models.Model]) -> list[models.Field]:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def _insert_params(obj: models.Model, connection: BaseDatabaseWrapper) -> list:
    fields = _written_fields(type(obj))
    return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


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
    events = quote(WebhookEvent._meta.db_table)
    event_key = quote(WebhookEvent._meta.get_field("webhook_id").column)
    return (
        f"{insert} ON CONFLICT ({key}) DO UPDATE SET {key} = EXCLUDED.{key} "
        f"RETURNING {', '.join(returned)}, "
        f"EXISTS (SELECT 1 FROM {events} WHERE {event_key} = %s)"
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
