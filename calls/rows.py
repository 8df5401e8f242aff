"""Row operations the request path needs in fewer statements than the ORM would make.

Each is one SQL statement built from the model's own fields (a new column needs no edit
here), for PostgreSQL and SQLite alike (SQLite 3.35+ has ON CONFLICT … RETURNING).
"""

from __future__ import annotations

from django.db import connection

from calls.models import Call, WebhookEvent


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
    fields = [field for field in Call._meta.concrete_fields if not field.primary_key]
    params = [field.get_db_prep_save(field.pre_save(new, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_call_upsert_sql(), [*params, webhook_id])
        *values, event_has_id = cursor.fetchone()
    return _call_from_db(values), bool(event_has_id)


def _call_upsert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(Call._meta.db_table)
    key = quote(Call._meta.get_field("minivoice_id").column)
    inserted = [quote(f.column) for f in Call._meta.concrete_fields if not f.primary_key]
    returned = [f"{table}.{quote(f.column)}" for f in Call._meta.concrete_fields]
    events = quote(WebhookEvent._meta.db_table)
    event_key = quote(WebhookEvent._meta.get_field("webhook_id").column)
    return (
        f"INSERT INTO {table} ({', '.join(inserted)}) "
        f"VALUES ({', '.join(['%s'] * len(inserted))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {key} = EXCLUDED.{key} "
        f"RETURNING {', '.join(returned)}, "
        f"EXISTS (SELECT 1 FROM {events} WHERE {event_key} = %s)"
    )


def _call_from_db(values: list) -> Call:
    """A Call from a row of its concrete fields, converted as the ORM converts a SELECT's
    (SQLite returns times as text, for one)."""
    fields = Call._meta.concrete_fields
    compiler = connection.ops.compiler("SQLCompiler")(Call.objects.none().query, connection, None)
    converters = compiler.get_converters([f.get_col(Call._meta.db_table) for f in fields])
    [row] = compiler.apply_converters([values], converters)
    return Call.from_db(connection.alias, [f.attname for f in fields], row)
