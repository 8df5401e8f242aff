"""The statements of `calls.rows`, built once from the models' fields (standard SQL
quoting: the same text on both databases), then only given parameters."""

from __future__ import annotations

from functools import cache

from django.db import models

from calls.models import REVISION_ROW, AnswerExchange, Call, FlowsRevision, WebhookEvent
from calls.rows.fields import columns, inserted, returned, updated

EXCHANGE_CALL = AnswerExchange._meta.get_field("call")

# -- The statements, built once (standard SQL quoting: the same text on both databases) --


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(model: type[models.Model]) -> str:
    return _quoted(model._meta.db_table)


def _names(fields: list[models.Field], prefix: str = "") -> str:
    return ", ".join(prefix + _quoted(f.column) for f in fields)


def _primary_key(model: type[models.Model]) -> models.Field:
    return next(f for f in columns(model) if f.primary_key)


@cache
def insert_sql(model: type[models.Model], *, ignore_conflicts: bool) -> str:
    fields = inserted(model)
    return (
        f"INSERT INTO {_table(model)} ({_names(fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
        f"{' ON CONFLICT DO NOTHING' if ignore_conflicts else ''} "
        f"RETURNING {_names(returned(model))}"
    )


@cache
def update_sql(model: type[models.Model]) -> str:
    assignments = ", ".join(f"{_quoted(f.column)} = %s" for f in updated(model))
    return (
        f"UPDATE {_table(model)} SET {assignments} WHERE {_quoted(_primary_key(model).column)} = %s"
    )


@cache
def call_upsert_sql() -> str:
    insert = insert_sql(Call, ignore_conflicts=False).partition(" RETURNING ")[0]
    key = _quoted(Call._meta.get_field("minivoice_id").column)
    return (
        f"{insert} ON CONFLICT ({key}) DO UPDATE SET {key} = EXCLUDED.{key} "
        f"RETURNING {_names(columns(Call), f'{_table(Call)}.')}, "
        f"{_an_event_has_the_webhook_id()}"
    )


def _an_event_has_the_webhook_id() -> str:
    """SQL: whether a stored webhook event has the webhook-id given as a parameter (one
    webhook-id namespace across both endpoints)."""
    event_key = _quoted(WebhookEvent._meta.get_field("webhook_id").column)
    return f"EXISTS (SELECT 1 FROM {_table(WebhookEvent)} WHERE {event_key} = %s)"


@cache
def new_call_sql() -> str:
    """INSERT a call unless its MiniVoice id is stored, a webhook event has the webhook-id
    given next (given twice: an empty one is never looked for), or the flows revision is
    not the one given last (given twice: -1 is never compared). The revision is one row
    read by its key, in the statement that runs anyway: how each process learns, at no
    cost, that its copy of the flows is stale (`calls.flows.live`)."""
    fields = inserted(Call)
    revision = _quoted(FlowsRevision._meta.get_field("revision").column)
    revision_key = _quoted(FlowsRevision._meta.pk.column)
    return (
        f"INSERT INTO {_table(Call)} ({_names(fields)}) "
        f"SELECT {', '.join(['%s'] * len(fields))} "
        f"WHERE (%s = '' OR NOT {_an_event_has_the_webhook_id()}) "
        f"AND (%s < 0 OR (SELECT {revision} FROM {_table(FlowsRevision)} "
        f"WHERE {revision_key} = {REVISION_ROW}) = %s) "
        f"ON CONFLICT ({_quoted(Call._meta.get_field('minivoice_id').column)}) DO NOTHING "
        f"RETURNING {_names(returned(Call))}"
    )


@cache
def call_and_exchange_sql() -> str:
    """PostgreSQL: `new_call_sql` and the exchange's INSERT in one statement, reading
    back what each INSERT returns. The exchange takes the new call's id, so it is
    inserted only if the call was."""
    call_id = f"new_call.{_quoted(_primary_key(Call).column)}"
    fields = inserted(AnswerExchange)
    values = ", ".join(call_id if f is EXCHANGE_CALL else "%s" for f in fields)
    return (
        f"WITH new_call AS ({new_call_sql()}), "
        f"new_exchange AS (INSERT INTO {_table(AnswerExchange)} ({_names(fields)}) "
        f"SELECT {values} FROM new_call RETURNING {_names(returned(AnswerExchange))}) "
        f"SELECT {_names(returned(Call), 'new_call.')}, "
        f"{_names(returned(AnswerExchange), 'new_exchange.')} FROM new_call, new_exchange"
    )


@cache
def call_read_sql() -> str:
    """PostgreSQL: a stored call by its MiniVoice id, its row version (`xmin`, which every
    UPDATE of the row changes), and whether a stored webhook event has the webhook-id
    given first."""
    return (
        f"SELECT {_names(columns(Call), f'{_table(Call)}.')}, {_table(Call)}.xmin::text, "
        f"{_an_event_has_the_webhook_id()} FROM {_table(Call)} "
        f"WHERE {_quoted(Call._meta.get_field('minivoice_id').column)} = %s"
    )


@cache
def follow_up_sql() -> str:
    """PostgreSQL: a follow-up's exchange INSERTed and its call UPDATEd in one statement,
    only if the call row is still the version `call_read_sql` read (locked while it is
    checked: a change committed meanwhile is seen) and no exchange has the webhook-id (a
    replay); else nothing is written and no row comes back. The row: what the exchange's
    INSERT returns."""
    key = _quoted(_primary_key(Call).column)
    fields = inserted(AnswerExchange)
    values = ", ".join("unchanged.id" if f is EXCHANGE_CALL else "%s" for f in fields)
    assignments = ", ".join(f"{_quoted(f.column)} = %s" for f in updated(Call))
    return (
        f"WITH unchanged AS (SELECT {key} AS id FROM {_table(Call)} "
        f"WHERE {key} = %s AND xmin::text = %s FOR UPDATE), "
        f"new_exchange AS (INSERT INTO {_table(AnswerExchange)} ({_names(fields)}) "
        f"SELECT {values} FROM unchanged ON CONFLICT DO NOTHING "
        f"RETURNING {_names(returned(AnswerExchange))}), "
        f"written AS (UPDATE {_table(Call)} SET {assignments} "
        f"WHERE {key} = (SELECT id FROM unchanged) AND EXISTS (SELECT 1 FROM new_exchange) "
        f"RETURNING 1) "
        f"SELECT {_names(returned(AnswerExchange), 'new_exchange.')}, "
        f"(SELECT count(*) FROM written) FROM new_exchange"
    )
