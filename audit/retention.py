"""Pruning the audit trail: entries older than MINIVOICE_AUDIT_RETENTION go, never a
younger one.

The table is append-only, so the prune is the one delete it allows. On PostgreSQL the
trigger (migration 0002) refuses every UPDATE and DELETE, except a DELETE of rows older
than the retention the deleting transaction names in the session setting
`minivoice.audit_retention_seconds` (at least a day), measured against the database's own
clock: `SET LOCAL` it, and only rows older than that can go. A mistaken or hostile DELETE
without it, or of a younger row, fails whole. (The table's owner can still drop the
trigger: it guards against the app, not against the database's administrator.)
On SQLite the model refuses deletes in Python; the prune deletes by key with SQL.

Each prune leaves an entry saying how many it deleted and up to when.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEntry
from audit.record import NOBODY, About, audit_record

RETENTION_SETTING = "minivoice.audit_retention_seconds"
# The trigger refuses a retention shorter than this, whatever a session says.
SHORTEST_RETENTION = timedelta(days=1)
# Our clock and the database's may differ by a little: rows this close to the cutoff wait
# for the next prune rather than make the trigger refuse a whole batch.
CLOCK_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Pruned:
    deleted: int
    before: datetime


def audit_prunable(*, retention: timedelta, now: datetime | None = None):
    before = (now or timezone.now()) - retention - CLOCK_MARGIN
    return AuditEntry.objects.filter(at__lt=before), before


def audit_prune(
    *,
    retention: timedelta | None = None,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> Pruned:
    """Delete entries older than `retention` (MINIVOICE_AUDIT_RETENTION unless given,
    never shorter than a day), oldest first, in short transactions."""
    retention = retention or settings.MINIVOICE_AUDIT_RETENTION
    if retention < SHORTEST_RETENTION:
        raise ValueError("The audit trail is kept at least a day.")
    chosen, before = audit_prunable(retention=retention)
    deleted = 0
    while pks := list(chosen.order_by("at", "pk").values_list("pk", flat=True)[:batch_size]):
        with transaction.atomic():
            count = _delete(pks, retention)
        deleted += count
        if on_batch is not None:
            on_batch(count)
    if deleted:
        detail = (
            f"{deleted} entr{'y' if deleted == 1 else 'ies'} older than {before:%Y-%m-%d %H:%M} UTC"
        )
        audit_record(
            actor=NOBODY,
            action=AuditEntry.Action.AUDIT_PRUNED,
            about=About(AuditEntry._meta.label_lower, "", detail=detail),
        )
    return Pruned(deleted=deleted, before=before)


def _delete(pks: list[int], retention: timedelta) -> int:
    """The one DELETE of the table: by key, with the retention named to the trigger."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    marks = ", ".join(["%s"] * len(pks))
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgresql:
            seconds = str(int(retention.total_seconds()))
            cursor.execute("SELECT set_config(%s, %s, true)", [RETENTION_SETTING, seconds])
        cursor.execute(f"DELETE FROM {table} WHERE id IN ({marks})", pks)
        deleted = cursor.rowcount
        if postgresql:
            # Local to the transaction already; cleared at once all the same, in case the
            # prune runs inside a longer transaction of its caller's.
            cursor.execute("SELECT set_config(%s, '', true)", [RETENTION_SETTING])
    return deleted
