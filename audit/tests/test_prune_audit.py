"""Pruning the audit trail: `prune_audit` and beat's nightly task delete entries older than
MINIVOICE_AUDIT_RETENTION, never a younger one, and leave an entry saying so; the other
prunes never touch the trail."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audit.models import AuditEntry
from audit.retention import audit_prune
from audit.tasks import prune_old_audit
from minivoice_emulator.tests.processes import environment, manage

pytestmark = pytest.mark.django_db


def made(days_ago: float) -> AuditEntry:
    (entry,) = AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                at=timezone.now() - timedelta(days=days_ago),
                action=AuditEntry.Action.NUMBERS_VIEWED,
                object_type="calls.call",
                object_id="1",
                username="lea",
            )
        ]
    )
    return entry


@pytest.fixture
def ages(settings) -> dict[str, AuditEntry]:
    settings.MINIVOICE_AUDIT_RETENTION = timedelta(days=400)
    return {
        "older": made(401),
        "much older": made(900),
        "just younger": made(399),
        "today": made(0),
    }


def left() -> set[int]:
    return set(
        AuditEntry.objects.exclude(action=AuditEntry.Action.AUDIT_PRUNED).values_list(
            "pk", flat=True
        )
    )


def test_the_command_deletes_only_entries_older_than_the_retention(ages):
    out = StringIO()

    call_command("prune_audit", "--batch-size", "1", stdout=out)

    assert left() == {ages["just younger"].pk, ages["today"].pk}
    assert "Deleted 2 audit entries older than" in out.getvalue()


def test_a_prune_leaves_an_entry_saying_what_it_deleted(ages):
    call_command("prune_audit", stdout=StringIO())

    pruned = AuditEntry.objects.get(action=AuditEntry.Action.AUDIT_PRUNED)
    assert pruned.username == "" and pruned.user_id is None
    assert pruned.detail.startswith("2 entries older than ")


def test_a_dry_run_counts_and_deletes_nothing(ages):
    out = StringIO()

    call_command("prune_audit", "--dry-run", stdout=out)

    assert "Would delete 2 audit entries" in out.getvalue()
    assert len(left()) == 4


def test_a_bad_batch_size_is_refused_in_one_line(ages):
    with pytest.raises(CommandError, match="--batch-size must be from 1 to 10000"):
        call_command("prune_audit", "--batch-size", "0")
    assert len(left()) == 4


def test_a_retention_under_a_day_is_refused(ages):
    with pytest.raises(ValueError, match="at least a day"):
        audit_prune(retention=timedelta(hours=1))
    assert len(left()) == 4


def test_beats_task_prunes_by_the_setting(ages, settings):
    settings.MINIVOICE_AUDIT_RETENTION = timedelta(days=800)

    assert prune_old_audit() == 1

    assert ages["much older"].pk not in left() and len(left()) == 3


def test_the_other_prunes_never_touch_the_trail(ages):
    call_command("prune_events", "--older-than", "1d", stdout=StringIO())
    call_command("prune_recordings", "--older-than", "1d", "--transcripts", stdout=StringIO())

    assert len(left()) == 4


SCHEDULE = (
    "import json; from django.conf import settings; "
    "print(json.dumps([settings.CELERY_BEAT_SCHEDULE.get('prune-old-audit'), "
    "settings.MINIVOICE_AUDIT_RETENTION.days], default=str))"
)


def settings_in_a_fresh_process(tmp_path, **variables: str):
    env = environment(f"sqlite:///{tmp_path / 'db.sqlite3'}", **variables)
    return manage("shell", "--no-imports", "-c", SCHEDULE, env=env)


def test_beat_prunes_the_trail_nightly_and_keeps_400_days_by_default(tmp_path):
    result = settings_in_a_fresh_process(tmp_path)

    assert result.returncode == 0, result.stderr
    entry, days = json.loads(result.stdout)
    assert entry["task"] == prune_old_audit.name == "audit.tasks.prune_old_audit"
    assert entry["schedule"] == "<crontab: 0 4 * * * (m/h/dM/MY/d)>"
    assert days == 400


@pytest.mark.parametrize(("raw", "problem"), [("12h", "at least a day"), ("a year", "180d")])
def test_a_retention_under_a_day_or_not_a_length_stops_start_up(tmp_path, raw, problem):
    result = settings_in_a_fresh_process(tmp_path, MINIVOICE_AUDIT_RETENTION=raw)

    assert result.returncode != 0
    assert "MINIVOICE_AUDIT_RETENTION" in result.stderr and problem in result.stderr
    assert "Traceback" not in result.stderr
