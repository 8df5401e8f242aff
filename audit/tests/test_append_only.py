"""The audit trail is append-only: the model and its queryset refuse changes and deletes
in Python (SQLite and PostgreSQL alike), and on PostgreSQL the database itself refuses any
UPDATE or DELETE sent as raw SQL, but the prune's delete of rows past the retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import AppendOnlyError, AuditEntry
from audit.record import NOBODY, About, audit_record

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger is PostgreSQL's (migration 0002)"
)


@pytest.fixture
def entry() -> AuditEntry:
    return audit_record(
        actor=NOBODY,
        action=AuditEntry.Action.TIMELINE_EXPORTED,
        about=About("calls.call", "1", call_id="call_1", detail="numbers masked"),
    )


def stored(entry: AuditEntry) -> tuple:
    return AuditEntry.objects.filter(pk=entry.pk).values_list("detail", "username").get()


def test_an_entry_is_never_saved_over(entry):
    entry.detail = "nothing to see"

    with pytest.raises(AppendOnlyError):
        entry.save()

    assert stored(entry) == ("numbers masked", "")


def test_an_entry_is_never_deleted_by_the_model_or_a_queryset(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()

    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_a_queryset_never_updates_entries(entry):
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(username="someone")
    entry.username = "someone"
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.bulk_update([entry], ["username"])

    assert stored(entry) == ("numbers masked", "")


def raw(*statements: tuple[str, list]) -> None:
    """Statements sent as SQL, together in one transaction."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql.format(table=table), params)


def keep_for(seconds: str) -> tuple[str, list]:
    """What the prune says before it deletes: the retention, for this transaction."""
    return ("SELECT set_config('minivoice.audit_retention_seconds', %s, true)", [seconds])


@on_postgresql
def test_postgresql_refuses_a_raw_update(entry):
    with pytest.raises(DatabaseError, match="append-only: UPDATE"):
        raw(("UPDATE {table} SET detail = %s WHERE id = %s", ["nothing to see", entry.pk]))

    assert stored(entry) == ("numbers masked", "")


@on_postgresql
def test_postgresql_refuses_a_raw_delete(entry):
    with pytest.raises(DatabaseError, match="append-only: DELETE"):
        raw(("DELETE FROM {table} WHERE id = %s", [entry.pk]))

    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@on_postgresql
def test_postgresql_refuses_an_update_even_with_the_prunes_setting(entry):
    AuditEntry.objects.bulk_create(
        [AuditEntry(at=timezone.now() - timedelta(days=900), action="numbers.view")]
    )
    with pytest.raises(DatabaseError, match="append-only: UPDATE"):
        raw(keep_for("86400"), ("UPDATE {table} SET detail = %s", ["nothing to see"]))


@on_postgresql
@pytest.mark.parametrize(
    "retention", ["", "0", "3600", "-1", "86400; DROP TRIGGER x", "99999999999999"]
)
def test_postgresql_refuses_deleting_old_rows_without_a_retention_of_a_day_or_more(retention):
    old = AuditEntry.objects.create(at=timezone.now() - timedelta(days=900), action="numbers.view")

    with pytest.raises(DatabaseError, match="append-only: DELETE"):
        raw(keep_for(retention), ("DELETE FROM {table} WHERE id = %s", [old.pk]))

    assert AuditEntry.objects.filter(pk=old.pk).exists()


@on_postgresql
def test_postgresql_refuses_deleting_a_row_younger_than_the_retention_named(entry):
    with pytest.raises(DatabaseError, match="append-only: DELETE"):
        raw(keep_for("86400"), ("DELETE FROM {table} WHERE id = %s", [entry.pk]))

    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@on_postgresql
def test_postgresql_lets_the_prune_delete_rows_older_than_the_retention_it_names():
    old = AuditEntry.objects.create(at=timezone.now() - timedelta(days=3), action="numbers.view")

    raw(keep_for("172800"), ("DELETE FROM {table} WHERE id = %s", [old.pk]))

    assert not AuditEntry.objects.filter(pk=old.pk).exists()


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_setting_lasts_only_for_the_pruning_transaction():
    old = AuditEntry.objects.create(at=timezone.now() - timedelta(days=3), action="numbers.view")
    raw(keep_for("86400"))

    with pytest.raises(DatabaseError, match="append-only: DELETE"):
        raw(("DELETE FROM {table} WHERE id = %s", [old.pk]))
