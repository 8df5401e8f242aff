"""Retention settings for the logs: webhook events and answer_url exchanges each pruned by
beat by their own setting (`calls.tasks.prune_old_logs`, as `prune_events --only` does),
and `check --deploy` warning when no retention at all is set."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from calls.checks import RETENTION_SETTINGS, retention_is_set
from calls.models import AnswerExchange, WebhookEvent
from calls.tasks import prune_old_logs
from calls.tests.test_prune_events_command import event, exchange
from minivoice_emulator.tests.processes import environment, manage

SCHEDULE = (
    "import json; from django.conf import settings; s = settings.CELERY_BEAT_SCHEDULE; "
    "print(json.dumps({k: s.get(k) for k in ('prune-old-logs', 'prune-old-recordings')}, "
    "default=str))"
)


def beat(tmp_path, **variables: str) -> dict:
    env = environment(f"sqlite:///{tmp_path / 'db.sqlite3'}", **variables)
    for name in RETENTION_SETTINGS:
        env.setdefault(name, "")
    result = manage("shell", "--no-imports", "-c", SCHEDULE, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "variable", ["MINIVOICE_PRUNE_EVENTS_AFTER", "MINIVOICE_PRUNE_EXCHANGES_AFTER"]
)
def test_either_log_setting_has_beat_prune_the_logs_nightly_by_task_name(tmp_path, variable):
    entry = beat(tmp_path, **{variable: "90d"})["prune-old-logs"]

    assert entry["task"] == prune_old_logs.name == "calls.tasks.prune_old_logs"
    assert entry["schedule"] == "<crontab: 0 3 * * * (m/h/dM/MY/d)>"


def test_transcripts_of_their_own_have_beat_run_the_recordings_prune(tmp_path):
    entries = beat(tmp_path, MINIVOICE_PRUNE_TRANSCRIPTS_AFTER="30d")

    assert entries["prune-old-recordings"]["task"] == "recordings.tasks.prune_old_recordings"
    assert entries["prune-old-logs"] is None


def test_with_no_setting_beat_prunes_no_log(tmp_path):
    assert beat(tmp_path) == {"prune-old-logs": None, "prune-old-recordings": None}


@pytest.mark.django_db
def test_the_task_prunes_each_log_by_its_own_setting(settings):
    settings.MINIVOICE_PRUNE_EVENTS_AFTER = timedelta(days=30)
    settings.MINIVOICE_PRUNE_EXCHANGES_AFTER = timedelta(days=90)
    old_event, young_event = event(age=timedelta(days=60)), event(age=timedelta(days=10))
    old_exchange, young_exchange = (
        exchange(age=timedelta(days=100)),
        exchange(age=timedelta(days=60)),
    )

    assert prune_old_logs() == {"events": 1, "exchanges": 1}

    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [young_event.pk]
    assert list(AnswerExchange.objects.values_list("pk", flat=True)) == [young_exchange.pk]
    assert old_event.pk != young_event.pk and old_exchange.pk != young_exchange.pk


@pytest.mark.django_db
def test_an_unset_log_is_kept_whatever_its_age(settings):
    settings.MINIVOICE_PRUNE_EVENTS_AFTER = None
    settings.MINIVOICE_PRUNE_EXCHANGES_AFTER = timedelta(days=1)
    event(age=timedelta(days=900))
    exchange(age=timedelta(days=900))

    assert prune_old_logs() == {"events": 0, "exchanges": 1}
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("only", "left"), [("events", (0, 1)), ("exchanges", (1, 0))])
def test_the_command_prunes_only_the_log_asked_for(only, left):
    event(age=timedelta(days=100))
    exchange(age=timedelta(days=100))
    out = StringIO()

    call_command("prune_events", "--older-than", "90d", "--only", only, stdout=out)

    assert (WebhookEvent.objects.count(), AnswerExchange.objects.count()) == left
    assert "Deleted" in out.getvalue()


def test_check_deploy_warns_when_no_retention_is_set(settings):
    for name in RETENTION_SETTINGS:
        setattr(settings, name, None)

    (warning,) = retention_is_set(None)

    assert warning.id == "minivoice.W010"
    assert "kept for ever" in warning.msg
    assert all(name in warning.hint for name in RETENTION_SETTINGS)


@pytest.mark.parametrize("name", list(RETENTION_SETTINGS))
def test_any_one_retention_quiets_the_warning(settings, name):
    for other in RETENTION_SETTINGS:
        setattr(settings, other, None)
    setattr(settings, name, timedelta(days=90))

    assert retention_is_set(None) == []


def test_the_warning_comes_with_deploy_checks_only(tmp_path):
    env = environment(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    for name in RETENTION_SETTINGS:
        env[name] = ""

    plain = manage("check", env=env)
    deploy = manage("check", "--deploy", env=env)

    assert "minivoice.W010" not in plain.stdout + plain.stderr
    assert "minivoice.W010" in deploy.stdout + deploy.stderr
