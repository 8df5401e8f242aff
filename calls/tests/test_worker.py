"""A real Celery worker processes real signed deliveries through a real broker.

Runs where production's parts are: PostgreSQL (shared by this process and the worker)
and the broker in CELERY_BROKER_URL. `.ci/run` runs the suite that way; on the laptop
default (SQLite in memory, no broker) there is no worker to talk to, so it is skipped
there and says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection

from calls.models import Call, WebhookEvent
from conftest import WEBHOOK_URL, minivoice_event, signed
from minivoice_site.celery import app as celery_app
from recordings.models import Recording

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        settings.CELERY_TASK_ALWAYS_EAGER or connection.vendor != "postgresql",
        reason="needs CELERY_BROKER_URL and DATABASE_URL=postgres://… (.ci/run sets both)",
    ),
]


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}{port}/{db['NAME']}"


@pytest.fixture
def worker_queue():
    """A queue of this test's own, so no stale message from another run interferes."""
    queue = f"test-worker-{uuid.uuid4().hex[:8]}"
    conf = celery_app.conf
    previous = conf.task_default_queue, conf.CELERY_TASK_ALWAYS_EAGER
    conf.task_default_queue = queue
    conf.CELERY_TASK_ALWAYS_EAGER = False  # undo the suite's in-process default
    yield queue
    conf.task_default_queue, conf.CELERY_TASK_ALWAYS_EAGER = previous


@pytest.fixture
def celery_worker_process(worker_queue, tmp_path):
    """`celery worker` in its own process, on the test database and the real broker."""
    log = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": _database_url(), "DEBUG": "true"}
    command = [
        sys.executable, "-m", "celery", "-A", "minivoice_site", "worker",
        "--queues", worker_queue, "--pool", "solo", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    yield process, log
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def _wait_until(predicate, *, timeout: float, what: str, log) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text()[-4000:]}")


@pytest.mark.django_db(transaction=True)
def test_real_worker_applies_signed_deliveries_from_the_broker(client, celery_worker_process):
    process, log = celery_worker_process
    deliveries = [
        # Delivered out of order: completion first.
        minivoice_event(
            "recording.completed",
            call_id="call_worker",
            created_at="2026-05-29T12:00:40Z",
            recording_id="rec_worker",
            status="completed",
            duration_seconds=28,
        ),
        minivoice_event(
            "recording.started",
            call_id="call_worker",
            created_at="2026-05-29T12:00:12Z",
            recording_id="rec_worker",
            status="started",
        ),
    ]
    for payload in deliveries:
        body = json.dumps(payload).encode()
        response = client.post(
            WEBHOOK_URL, data=body, content_type="application/json", **signed(body)
        )
        assert response.status_code == 202, response.content

    def all_processed() -> bool:
        assert process.poll() is None, f"worker exited:\n{log.read_text()[-4000:]}"
        states = set(WebhookEvent.objects.values_list("state", flat=True))
        return states == {WebhookEvent.State.PROCESSED}

    _wait_until(all_processed, timeout=60, what="the worker to process both events", log=log)
    recording = Recording.objects.get(minivoice_id="rec_worker")
    assert recording.status == Recording.Status.COMPLETED
    assert recording.duration_seconds == 28
    assert recording.started_at is not None
    assert recording.call == Call.objects.get(minivoice_id="call_worker")
    assert "process_webhook_event" in log.read_text()
