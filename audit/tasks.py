"""Celery tasks of the audit app: thin, asked for by name (beat's schedule)."""

from __future__ import annotations

from celery import shared_task

from audit.retention import audit_prune


@shared_task
def prune_old_audit() -> int:
    """Run by beat nightly: entries older than MINIVOICE_AUDIT_RETENTION deleted."""
    return audit_prune().deleted
