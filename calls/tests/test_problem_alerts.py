"""Alerts (`calls.problems.alerts`): support hears of chosen problems by email and by a
chat webhook, once per call and code, rate-limited, with a link to the call's page."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from calls.models import Call, CallProblem
from calls.problems.alerts import problems_alert
from conftest import minivoice_event

NOW = timezone.now().isoformat()


class ChatChannel(BaseHTTPRequestHandler):
    """A chat service's incoming webhook on loopback: keeps what it was sent."""

    received: list[dict] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        self.received.append(
            {
                "content_type": self.headers["Content-Type"],
                "body": json.loads(self.rfile.read(length)),
            }
        )
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def chat_channel():
    handler = type("Handler", (ChatChannel,), {"received": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/support", handler.received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def alerts_on(settings, chat_channel):
    url, received = chat_channel
    settings.MINIVOICE_ALERT_CODES = ["recording_failed", "answer_url_failed"]
    settings.MINIVOICE_ALERT_EMAILS = ["support@example.com"]
    settings.MINIVOICE_ALERT_WEBHOOK_URL = url
    settings.MINIVOICE_SUPPORT_BASE_URL = "https://support.example.com/"
    return received


@pytest.fixture
def fail_recording(post_webhook):
    def send(call_id: str = "call_123", reason: str = "disk full") -> None:
        payload = minivoice_event(
            "recording.failed",
            call_id=call_id,
            created_at=NOW,  # a call of today: no other problem than the failure
            recording_id=f"rec_{call_id}",
            reason=reason,
        )
        response = post_webhook(payload, webhook_id=f"msg_{uuid.uuid4().hex}")
        assert response.status_code == 202

    return send


@pytest.mark.django_db
def test_a_chosen_problem_is_emailed_and_posted_once_with_a_link_to_the_call(
    alerts_on, fail_recording
):
    fail_recording()
    fail_recording(reason="still full")  # the same problem found again: no second alert

    call = Call.objects.get()
    link = "https://support.example.com" + reverse("admin:calls_call_change", args=[call.pk])
    [email] = mail.outbox
    assert email.to == ["support@example.com"]
    assert email.subject == "[MiniVoice] Recording failed on call call_123"
    assert link in email.body
    assert "disk full" in email.body
    [post] = alerts_on
    assert post["content_type"] == "application/json"
    assert post["body"]["code"] == "recording_failed"
    assert post["body"]["call_id"] == "call_123"
    assert post["body"]["url"] == link
    assert link in post["body"]["text"]
    assert CallProblem.objects.get().notified_at is not None


@pytest.mark.django_db
def test_a_problem_of_a_code_not_chosen_sends_nothing(alerts_on, post_webhook):
    post_webhook(minivoice_event("call.answered", created_at=NOW), webhook_id="msg_1")
    post_webhook(
        minivoice_event("call.completed", created_at=NOW, status="completed"),
        webhook_id="msg_2",
    )

    assert CallProblem.objects.get().code == "no_answer_url"
    assert mail.outbox == []
    assert alerts_on == []


@pytest.mark.django_db
def test_alerts_are_off_by_default(fail_recording, settings):
    assert settings.MINIVOICE_ALERT_CODES == []
    fail_recording()

    assert CallProblem.objects.get().notified_at is None
    assert mail.outbox == []


@pytest.mark.django_db
def test_alerts_stop_at_the_hourly_limit(alerts_on, fail_recording, settings, caplog):
    settings.MINIVOICE_ALERT_MAX_PER_HOUR = 2
    for index in range(4):
        fail_recording(call_id=f"call_{index}")

    assert len(mail.outbox) == 2
    assert len(alerts_on) == 2
    assert CallProblem.objects.filter(notified_at__isnull=True).count() == 2
    assert "Alert limit of 2 an hour reached" in caplog.text


@pytest.mark.django_db
def test_a_chat_service_that_is_down_loses_no_email_and_fails_nothing(
    alerts_on, fail_recording, settings, caplog
):
    settings.MINIVOICE_ALERT_WEBHOOK_URL = "http://127.0.0.1:9/nothing-listens-here"
    fail_recording()

    assert len(mail.outbox) == 1
    assert "Could not post the alert" in caplog.text
    assert CallProblem.objects.get().notified_at is not None


@pytest.mark.django_db
def test_sending_again_to_an_alerted_problem_sends_nothing(alerts_on, fail_recording):
    fail_recording()
    problem = CallProblem.objects.get()

    result = problems_alert(problem_ids=[problem.pk])

    assert result.sent == []
    assert len(mail.outbox) == 1
