"""Fixtures shared by every app's tests: fast settings, signed MiniVoice requests, and
brokers of a test's own."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from django.test import Client

from calls import dispatch
from calls.flows import live as flows_live
from calls.protocol.signatures import signed_headers
from calls.tests.browser import chromium_page, csp_complaints
from minivoice_emulator.payloads import event_payload
from minivoice_site.celery import app as celery_app

TEST_SECRET = "whsec_bWluaXZvaWNlLXRlc3RzLW9ubHkta2V5"  # base64 of "minivoice-tests-only-key"
OTHER_SECRET = "whsec_" + "b3RoZXItc2VjcmV0LW9mLTI0LWJ5dGVz"  # valid base64, not ours

WEBHOOK_URL = "/minivoice/webhooks/"
ANSWER_URL = "/minivoice/answer/"


@pytest.fixture(autouse=True)
def fast_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MINIVOICE_WEBHOOK_SECRETS = [TEST_SECRET]
    # No recording's audio is fetched unless a test serves MiniVoice's API (the emulator,
    # see recordings/tests/conftest.py) and points this at it.
    settings.MINIVOICE_API_URL = ""
    # Transcribing takes a second of CPU per few seconds of audio: only the transcript
    # tests turn it on.
    settings.MINIVOICE_TRANSCRIBE = False


@pytest.fixture(autouse=True)
def eager_celery():
    """Tasks run in-process after commit, whatever broker the environment names.

    The worker tests (calls/tests/test_worker.py) turn this off to go through a real broker.
    """
    # The app reads Django settings with the CELERY_ namespace, and the prefixed key wins
    # over the plain `task_always_eager`, so that is the one to override.
    previous = celery_app.conf.CELERY_TASK_ALWAYS_EAGER
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True
    yield
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = previous


def minivoice_event(
    event: str = "recording.started",
    *,
    call_id: str = "call_123",
    created_at: str = "2026-05-29T12:00:12Z",
    call_status: str | None = None,
    **data,
) -> dict:
    """A webhook payload shaped like MiniVoice's own example, built as the emulator builds
    them. The envelope's call status is what it would be at that event, unless given."""
    return event_payload(
        event, call_id=call_id, created_at=created_at, call_status=call_status, **data
    )


def signed(
    body: bytes,
    *,
    secret: str = TEST_SECRET,
    webhook_id: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, str]:
    """Signature headers for the test client (HTTP_… keys)."""
    headers = signed_headers(
        body=body,
        secret=secret,
        webhook_id=webhook_id or f"msg_{uuid.uuid4().hex}",
        timestamp=timestamp,
    )
    return {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}


@pytest.fixture
def post_webhook(client: Client, django_capture_on_commit_callbacks) -> Callable:
    """POST a payload (dict, or raw bytes) to the webhook URL, signed like MiniVoice.

    Callbacks queued on commit (the processing task) run as they would after a real
    commit, though the test's transaction is never committed.
    """

    def post(
        payload: dict | bytes,
        *,
        webhook_id: str | None = None,
        content_type: str = "application/json",
        **sign_options,
    ):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = signed(body, webhook_id=webhook_id, **sign_options)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(WEBHOOK_URL, data=body, content_type=content_type, **headers)

    return post


@pytest.fixture
def post_answer(client: Client) -> Callable:
    """POST a JSON answer_url request signed like MiniVoice's."""

    def post(payload: dict | bytes, *, content_type: str = "application/json", **sign_options):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = signed(body, **sign_options)
        return client.post(ANSWER_URL, data=body, content_type=content_type, **headers)

    return post


# -- Brokers of a test's own ------------------------------------------------------------------
# Tests of broker trouble never touch the machine's Redis: each starts its own on a free
# port, or a listener that accepts and never answers.


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def use_broker(monkeypatch):
    """Send tasks to the broker at a URL (not in-process), for this test only."""
    conf = celery_app.conf
    previous = conf.CELERY_BROKER_URL, conf.CELERY_TASK_ALWAYS_EAGER

    def use(url: str) -> None:
        # Celery's broker_url prefers the environment variable over any setting.
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        conf.CELERY_BROKER_URL = url
        conf.CELERY_TASK_ALWAYS_EAGER = False
        # A wake-up made by an earlier test must not excuse this test's first one.
        monkeypatch.setitem(dispatch._last_wake, "at", float("-inf"))

    yield use
    conf.CELERY_BROKER_URL, conf.CELERY_TASK_ALWAYS_EAGER = previous
    dispatch._drop_connections()


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """A broker address that accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for client in accepted:
        client.close()
    listener.close()


class OwnRedis:
    """A redis-server of the test's own, on a free port, that can be stopped."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.command("PING") == "+PONG":
                return
            time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def command(self, *words: str) -> str:
        """One command in Redis's inline protocol; the first line of the answer."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as client:
                client.sendall(" ".join(words).encode() + b"\r\n")
                return client.recv(65536).decode().split("\r\n")[0]
        except OSError:
            return ""


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
    redis = OwnRedis()
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture(autouse=True)
def flows_forgotten():
    """Each test starts with no kept copy of the flows: its database rolls back under the
    process, so a revision number can come back with other flows behind it."""
    flows_live.forget()
    yield
    flows_live.forget()


@pytest.fixture
def page(monkeypatch, tmp_path):
    """Chromium at 1400 px for the console's browser tests (calls/tests/browser.py): it
    fails its test if the Content-Security-Policy blocked anything on the pages it saw,
    and keeps a screenshot of the last one in the test's tmp_path."""
    with chromium_page(monkeypatch) as tab:
        complaints = csp_complaints(tab)
        try:
            yield tab
            assert complaints == []
        finally:
            tab.screenshot(path=tmp_path / "last-page.png", full_page=True)
