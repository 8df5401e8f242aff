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


@pytest.fixture
def worker_on(tmp_path):
    """Start `celery worker` (as production runs it) on a broker URL; stopped at the end."""
    started = []

    def start(broker_url: str):
        log = tmp_path / "worker.log"
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": broker_url,
            "DEBUG": "true",
        }
        command = [
            sys.executable, "-m", "celery", "-A", "minivoice_site", "worker",
            "--pool", "solo", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        with log.open("w") as output:
            process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        started.append(process)
        _wait_until(lambda: "ready." in log.read_text(), timeout=60, what="the worker", log=log)
        return process, log

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _tasks_ended(log) -> bool:
    text = log.read_text()
    return text.count("] received") == text.count("] succeeded")


@pytest.mark.django_db(transaction=True)
def test_deliveries_stored_while_the_broker_was_down_are_processed_soon_after_it_is_back(
    client, own_redis, use_broker, worker_on
):
    """No new delivery comes to wake the workers: the worker itself asks for a drain when
    it has its broker again, rather than leaving the backlog to the sweep (2 minutes)."""
    process, log = worker_on(own_redis.url)
    # Any task it runs has ended (a drain keeps looking for a while after it found none),
    # so only its broker's return can start the next one.
    time.sleep(1)
    _wait_until(lambda: _tasks_ended(log), timeout=30, what="its tasks to end", log=log)
    use_broker(own_redis.url)
    own_redis.stop()
    for number in range(20):
        body = json.dumps(minivoice_event("call.ringing", call_id=f"call_{number}")).encode()
        response = client.post(
            WEBHOOK_URL, data=body, content_type="application/json", **signed(body)
        )
        assert response.status_code == 202, response.content
    # Long enough for the worker's tries to reconnect to grow apart (kombu's own: 2, 4,
    # 6 ... up to 30 s between them).
    time.sleep(15)
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"pending"}

    own_redis.start()
    back = time.monotonic()

    def all_processed() -> bool:
        assert process.poll() is None, f"worker exited:\n{log.read_text()[-4000:]}"
        states = set(WebhookEvent.objects.values_list("state", flat=True))
        return states == {WebhookEvent.State.PROCESSED}

    _wait_until(all_processed, timeout=10, what="the backlog to be processed", log=log)
    assert time.monotonic() - back < 10
    assert Call.objects.count() == 20
