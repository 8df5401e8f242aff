"""How long logs, audio, transcripts and the audit trail are kept, each pruned nightly
by beat once set (calls.privacy, audit, recordings.retention)."""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from minivoice_site.env import (
    envbool,
    envspan,
)
from minivoice_site.settings.workers import CELERY_BEAT_SCHEDULE

# Retention: recordings older than this (180d, 12h…) lose their audio, and their
# transcripts too with MINIVOICE_PRUNE_TRANSCRIPTS, every night (beat, on the recordings
# queue); what MiniVoice said of them stays, marked pruned. Unset or empty: never.
MINIVOICE_PRUNE_RECORDINGS_AFTER = envspan("MINIVOICE_PRUNE_RECORDINGS_AFTER")
MINIVOICE_PRUNE_TRANSCRIPTS = envbool("MINIVOICE_PRUNE_TRANSCRIPTS", False)
if MINIVOICE_PRUNE_RECORDINGS_AFTER is not None:
    CELERY_BEAT_SCHEDULE["prune-old-recordings"] = {
        "task": "recordings.tasks.prune_old_recordings",
        "schedule": crontab(hour=3, minute=30),  # a quiet hour, in CELERY_TIMEZONE
    }

# -- Retention of logs and what callers said, and the audit trail (calls.privacy, audit) --
# Kept in one block. Each of these is pruned nightly by beat once its variable is set
# (180d, 12h, 30m); unset or empty, kept for ever. `check --deploy` warns when none of
# them, nor MINIVOICE_PRUNE_RECORDINGS_AFTER (the audio, above), is set.
# Webhook events (those still waiting for work are kept whatever their age) and
# answer_url exchanges: `prune_events --only events|exchanges` on their own schedules.
MINIVOICE_PRUNE_EVENTS_AFTER = envspan("MINIVOICE_PRUNE_EVENTS_AFTER")
MINIVOICE_PRUNE_EXCHANGES_AFTER = envspan("MINIVOICE_PRUNE_EXCHANGES_AFTER")
# Transcripts, apart from their audio (`prune_recordings --transcripts-only`).
MINIVOICE_PRUNE_TRANSCRIPTS_AFTER = envspan("MINIVOICE_PRUNE_TRANSCRIPTS_AFTER")
if MINIVOICE_PRUNE_EVENTS_AFTER is not None or MINIVOICE_PRUNE_EXCHANGES_AFTER is not None:
    CELERY_BEAT_SCHEDULE["prune-old-logs"] = {
        "task": "calls.tasks.prune_old_logs",
        "schedule": crontab(hour=3, minute=0),  # a quiet hour, in CELERY_TIMEZONE
    }
if MINIVOICE_PRUNE_TRANSCRIPTS_AFTER is not None:
    CELERY_BEAT_SCHEDULE.setdefault(
        "prune-old-recordings",
        {"task": "recordings.tasks.prune_old_recordings", "schedule": crontab(hour=3, minute=30)},
    )
# The audit trail: entries older than this are pruned nightly (never a younger one; the
# database refuses it, audit/retention.py). At least a day.
MINIVOICE_AUDIT_RETENTION = envspan("MINIVOICE_AUDIT_RETENTION") or timedelta(days=400)
if MINIVOICE_AUDIT_RETENTION.total_seconds() < 24 * 3600:
    raise ImproperlyConfigured("MINIVOICE_AUDIT_RETENTION must be at least a day (1d)")
CELERY_BEAT_SCHEDULE["prune-old-audit"] = {
    "task": "audit.tasks.prune_old_audit",
    "schedule": crontab(hour=4, minute=0),
}
# -- End of retention and audit -------------------------------------------------------------
