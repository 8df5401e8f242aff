"""`calls.dispatch` in in-process mode (no broker): tasks run at once, and nothing
reaches for a broker connection that is not there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import TEST_SECRET

BASE_DIR = Path(__file__).resolve().parents[2]

# A laptop's first webhooks, in a fresh interpreter as under `make run`: one that is
# processed, and a failed recording that raises a problem with alerts on.
SCRIPT = """
import json, os
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from conftest import minivoice_event, signed
from calls.models import CallProblem, WebhookEvent
client = Client(HTTP_HOST="127.0.0.1")
for event in (
    minivoice_event("recording.started", recording_id="rec_1"),
    minivoice_event("recording.failed", recording_id="rec_2", reason="disk full"),
):
    body = json.dumps(event).encode()
    response = client.post(
        "/minivoice/webhooks/", data=body, content_type="application/json", **signed(body)
    )
    print("status", response.status_code)
print("states", sorted(WebhookEvent.objects.values_list("state", flat=True)))
print("notified", CallProblem.objects.filter(notified_at__isnull=False).count())
"""


def test_in_process_mode_processes_webhooks_without_looking_for_a_broker(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CELERY_BROKER_URL", "DATABASE_URL")
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "minivoice_site.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MINIVOICE_WEBHOOK_SECRET": TEST_SECRET,
        "MINIVOICE_ALERT_CODES": "recording_failed",
        # Nothing listens there: the alert fails quietly, and must not need a broker either.
        "MINIVOICE_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "MINIVOICE_SUPPORT_BASE_URL": "http://127.0.0.1:8000",
        "LOG_LEVEL": "DEBUG",
        "PYTHONPATH": str(BASE_DIR),
    }

    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "status 202",
        "status 202",
        "states ['processed', 'processed']",
        "notified 1",
    ]
    assert "No hostname was supplied" not in result.stderr, result.stderr
    assert "kombu" not in result.stderr


# Eight request threads of a fresh process (runserver's) ask for a task at the same
# moment, before any of them has loaded the tasks.
RACE = """
import threading
import django
django.setup()
from calls import dispatch
barrier = threading.Barrier(8)
errors = []
def ask():
    barrier.wait()
    try:
        dispatch.send_problem_alerts([])
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=ask) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(errors or "ok")
"""


def test_threads_asking_for_work_at_once_all_find_the_task_by_name(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CELERY_BROKER_URL", "DATABASE_URL")
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "minivoice_site.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PYTHONPATH": str(BASE_DIR),
    }

    result = subprocess.run(
        [sys.executable, "-c", RACE], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
