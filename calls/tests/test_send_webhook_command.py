"""`manage.py send_webhook` against the real app served on loopback (pytest-django's
live_server, a thread of this process that shares its settings)."""

from __future__ import annotations

import re
import socket
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from calls.models import WebhookEvent
from recordings.models import Recording

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def webhook_url(live_server) -> str:
    return live_server.url + "/minivoice/webhooks/"


def send_webhook(*args: str) -> str:
    out = StringIO()
    call_command("send_webhook", *args, stdout=out)
    return out.getvalue()


def test_sent_webhook_is_accepted_stored_and_processed(webhook_url):
    output = send_webhook("recording.started", "--call-id", "call_9", "--url", webhook_url)

    assert "recording.started (msg_" in output
    assert "HTTP 202" in output
    assert '"status": "accepted"' in output
    event = WebhookEvent.objects.get()
    assert (event.event_type, event.call_minivoice_id, event.state) == (
        "recording.started",
        "call_9",
        WebhookEvent.State.PROCESSED,
    )
    recording = Recording.objects.get(minivoice_id="rec_call_9")
    assert recording.status == Recording.Status.STARTED
    assert recording.call.minivoice_id == "call_9"


def test_recording_id_and_data_options_reach_the_app(webhook_url):
    send_webhook(
        "recording.failed",
        "--call-id",
        "call_9",
        "--recording-id",
        "rec_custom",
        "--data",
        '{"reason": "no media"}',
        "--url",
        webhook_url,
    )

    recording = Recording.objects.get()
    assert (recording.minivoice_id, recording.status, recording.failure_reason) == (
        "rec_custom",
        Recording.Status.FAILED,
        "no media",
    )


def test_resend_with_the_same_webhook_id_is_a_stored_once_duplicate(webhook_url):
    args = ["recording.started", "--call-id", "call_9", "--url", webhook_url]
    first = send_webhook(*args, "--webhook-id", "msg_again")

    second = send_webhook(*args, "--webhook-id", "msg_again")

    assert "(msg_again) → HTTP 202" in first
    assert "(msg_again) → HTTP 200" in second
    assert '"status": "duplicate"' in second
    assert WebhookEvent.objects.filter(webhook_id="msg_again").count() == 1
    assert Recording.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [("{not json", "--data is not valid JSON"), ("[1]", "--data must be a JSON object")],
)
def test_bad_data_is_refused_before_sending(webhook_url, data, message):
    with pytest.raises(CommandError, match=message):
        send_webhook("call.answered", "--call-id", "call_9", "--data", data, "--url", webhook_url)
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "url",
    ["notaurl", "http://[::1/", "ftp://127.0.0.1/minivoice/webhooks/", "http:///no-host"],
    ids=["no-scheme", "unclosed-ipv6-bracket", "ftp", "no-host"],
)
def test_url_that_is_not_http_is_refused_before_sending(url):
    with pytest.raises(
        CommandError, match=re.escape(f"--url must be an http:// or https:// URL (got {url!r})")
    ):
        send_webhook("call.answered", "--call-id", "call_9", "--url", url)
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "webhook_id",
    ["a\nb", "msg_€", "a b", "msg_\x00"],
    ids=["newline", "non-ascii", "space", "nul"],
)
def test_webhook_id_that_is_not_printable_ascii_is_refused_before_sending(webhook_url, webhook_id):
    # The app would store it, or the HTTP library refuse it with a traceback.
    with pytest.raises(CommandError, match="--webhook-id must be printable ASCII without spaces"):
        send_webhook(
            "call.answered", "--call-id", "call_9", "--url", webhook_url, "--webhook-id", webhook_id
        )
    assert not WebhookEvent.objects.exists()


def test_no_secret_is_refused_with_what_to_do(webhook_url, settings):
    settings.MINIVOICE_WEBHOOK_SECRETS = []
    with pytest.raises(CommandError, match="dev_setup"):
        send_webhook("call.answered", "--call-id", "call_9", "--url", webhook_url)
    assert not WebhookEvent.objects.exists()


def test_unreachable_app_is_a_command_error():
    # A bound socket that does not listen refuses connections, and no other test or
    # program can take its port meanwhile.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/minivoice/webhooks/"
        with pytest.raises(CommandError, match=re.escape(f"Could not reach {url}")):
            send_webhook("call.answered", "--call-id", "call_9", "--url", url)


@pytest.mark.parametrize(
    ("path", "extra", "status"),
    [
        # The app refuses a webhook-id longer than its column.
        ("/minivoice/webhooks/", ["--webhook-id", "msg_" + "x" * 300], "HTTP 400"),
        ("/minivoice/no-such-door/", [], "HTTP 404"),
    ],
)
def test_refusal_by_the_app_is_printed_then_a_command_error(live_server, path, extra, status):
    out = StringIO()
    with pytest.raises(CommandError, match="refused"):
        call_command(
            "send_webhook",
            "call.answered",
            "--call-id",
            "call_9",
            "--url",
            live_server.url + path,
            *extra,
            stdout=out,
        )
    assert status in out.getvalue()
    assert not WebhookEvent.objects.exists()
