"""POST /minivoice/webhooks/: verify, store once, acknowledge, process after commit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from threading import Barrier, Lock

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from calls import dispatch, tasks
from calls.models import Call, WebhookEvent
from calls.processing import handlers
from calls.tests.test_contract import HOSTILE_JSON
from conftest import OTHER_SECRET, TEST_SECRET, WEBHOOK_URL, minivoice_event, signed
from recordings.models import Recording

MAX_BODY = 256 * 1024


def body_of(payload: dict, **dumps_options) -> bytes:
    return json.dumps(payload, **dumps_options).encode()


STARTED = body_of(minivoice_event("recording.started", recording_id="rec_call_123"))


def post(client: Client, body: bytes, headers: dict, content_type="application/json", **extra):
    """POST as MiniVoice would, with exactly these (HTTP_...) headers."""
    return client.post(WEBHOOK_URL, data=body, content_type=content_type, **headers, **extra)


def signed_raw(body: bytes, *, webhook_id: str = "msg_raw") -> dict[str, str]:
    """Standard Webhooks headers computed over raw bytes, for bodies that are not UTF-8."""
    timestamp = str(int(time.time()))
    key = base64.b64decode(TEST_SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "HTTP_WEBHOOK_ID": webhook_id,
        "HTTP_WEBHOOK_TIMESTAMP": timestamp,
        "HTTP_WEBHOOK_SIGNATURE": f"v1,{base64.b64encode(digest).decode()}",
    }


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]


def assert_nothing_stored() -> None:
    assert not WebhookEvent.objects.exists()
    assert not Call.objects.exists()
    assert not Recording.objects.exists()


# -- A good delivery ------------------------------------------------------------------------


@pytest.mark.django_db
def test_signed_delivery_is_stored_as_received_and_processed(post_webhook):
    # Indented, non-ASCII and with keys out of the usual order: stored byte for byte.
    payload = minivoice_event("recording.started", recording_id="rec_call_123")
    payload["variables"] = {"caller_name": "Zoë"}
    body = body_of(payload, indent=2, ensure_ascii=False, sort_keys=True)

    response = post_webhook(body, webhook_id="msg_1")

    assert response.status_code == 202
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "accepted", "webhook_id": "msg_1"}
    event = WebhookEvent.objects.get()
    assert event.webhook_id == "msg_1"
    assert event.event_type == "recording.started"
    assert event.call_minivoice_id == "call_123"
    assert event.occurred_at == datetime(2026, 5, 29, 12, 0, 12, tzinfo=UTC)
    assert event.raw_body == body.decode()
    assert event.payload == payload
    assert event.headers["webhook-id"] == "msg_1"
    assert event.headers["webhook-timestamp"].isdigit()
    assert event.headers["content-type"] == "application/json"
    assert "webhook-signature" not in event.headers
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.attempts == 1
    assert event.processed_at is not None
    assert event.error == ""
    call = Call.objects.get()
    assert call.minivoice_id == "call_123"
    assert call.last_step == "Recording started"
    recording = Recording.objects.get()
    assert recording.minivoice_id == "rec_call_123"
    assert recording.call == call
    assert recording.status == Recording.Status.STARTED
    assert recording.started_at == event.occurred_at


@pytest.mark.django_db
def test_json_with_a_charset_is_accepted(post_webhook):
    response = post_webhook(STARTED, content_type="application/json; charset=utf-8")

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.headers["content-type"] == "application/json; charset=utf-8"


# -- Signatures ----------------------------------------------------------------------------


def _replace(headers: dict, name: str, value: str) -> dict:
    return {**headers, name: value}


def _without(headers: dict, name: str) -> dict:
    return {key: value for key, value in headers.items() if key != name}


SIGNATURE = "HTTP_WEBHOOK_SIGNATURE"
# Each builds the headers when the test runs, so that no timestamp ages while others run.
BAD_SIGNATURES = {
    "no-headers": lambda body: {},
    "no-signature": lambda body: _without(signed(body), SIGNATURE),
    "no-webhook-id": lambda body: _without(signed(body), "HTTP_WEBHOOK_ID"),
    "no-timestamp": lambda body: _without(signed(body), "HTTP_WEBHOOK_TIMESTAMP"),
    "wrong-secret": lambda body: signed(body, secret=OTHER_SECRET),
    "tampered-body": lambda body: signed(body.replace(b"call_123", b"call_999")),
    "stale-timestamp": lambda body: signed(
        body, timestamp=datetime.now(tz=UTC) - timedelta(minutes=6)
    ),
    "future-timestamp": lambda body: signed(
        body, timestamp=datetime.now(tz=UTC) + timedelta(minutes=6)
    ),
    "non-numeric-timestamp": lambda body: _replace(signed(body), "HTTP_WEBHOOK_TIMESTAMP", "now"),
    "no-comma": lambda body: _replace(signed(body), SIGNATURE, signed(body)[SIGNATURE][3:]),
    "not-base64": lambda body: _replace(signed(body), SIGNATURE, "v1,not-base64!!"),
    "empty-signature": lambda body: _replace(signed(body), SIGNATURE, ""),
    "v2-only": lambda body: _replace(
        signed(body), SIGNATURE, signed(body)[SIGNATURE].replace("v1,", "v2,")
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("make_headers", BAD_SIGNATURES.values(), ids=BAD_SIGNATURES.keys())
def test_badly_signed_delivery_is_refused_and_not_stored(client, make_headers):
    response = post(client, STARTED, make_headers(STARTED))

    assert_refused(response, 401, "invalid_signature")
    assert_nothing_stored()


@pytest.mark.django_db
def test_body_that_is_not_utf8_is_refused_and_not_stored(client):
    body = b"\xff\xfe"

    response = post(client, body, signed_raw(body))

    assert_refused(response, 401, "invalid_signature")
    assert "UTF-8" in response.json()["error"]["message"]
    assert_nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize("secret", [OTHER_SECRET, TEST_SECRET])
def test_during_a_rotation_either_secret_is_accepted(post_webhook, settings, secret):
    settings.MINIVOICE_WEBHOOK_SECRETS = [OTHER_SECRET, TEST_SECRET]

    response = post_webhook(STARTED, webhook_id="msg_rotated", secret=secret)

    assert response.status_code == 202
    assert WebhookEvent.objects.get().webhook_id == "msg_rotated"


@pytest.mark.django_db
@pytest.mark.parametrize("good_first", [True, False])
def test_one_matching_signature_among_several_is_accepted(client, good_first):
    good = signed(STARTED, webhook_id="msg_multi")
    wrong = signed(STARTED, webhook_id="msg_multi", secret=OTHER_SECRET)[SIGNATURE]
    both = [good[SIGNATURE], wrong] if good_first else [wrong, good[SIGNATURE]]

    response = post(client, STARTED, _replace(good, SIGNATURE, " ".join(both)))

    assert response.status_code == 202
    assert WebhookEvent.objects.get().webhook_id == "msg_multi"


@pytest.mark.django_db
def test_without_a_configured_secret_deliveries_are_refused_with_503(post_webhook, settings):
    settings.MINIVOICE_WEBHOOK_SECRETS = []

    response = post_webhook(STARTED)

    assert_refused(response, 503, "not_configured")
    assert_nothing_stored()


# -- Retries and duplicates -----------------------------------------------------------------


@pytest.mark.django_db
def test_duplicate_delivery_is_stored_once(post_webhook):
    later = body_of(minivoice_event(created_at="2026-05-29T12:09:00Z", recording_id="rec_other"))

    first = post_webhook(STARTED, webhook_id="msg_dup")
    second = post_webhook(later, webhook_id="msg_dup")

    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate", "webhook_id": "msg_dup"}
    event = WebhookEvent.objects.get()
    assert event.raw_body == STARTED.decode()
    assert event.occurred_at == datetime(2026, 5, 29, 12, 0, 12, tzinfo=UTC)
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.deliveries == 2  # support sees that MiniVoice sent it twice
    assert list(Recording.objects.values_list("minivoice_id", flat=True)) == ["rec_call_123"]


@pytest.mark.django_db
def test_badly_signed_copy_of_a_stored_delivery_changes_nothing(client, post_webhook):
    post_webhook(STARTED, webhook_id="msg_kept")
    forged = body_of(minivoice_event("call.completed", status="busy"))

    response = post(client, forged, signed(forged, webhook_id="msg_kept", secret=OTHER_SECRET))

    assert_refused(response, 401, "invalid_signature")
    event = WebhookEvent.objects.get()
    assert event.raw_body == STARTED.decode()
    assert event.state == WebhookEvent.State.PROCESSED
    assert Call.objects.get().final_status == ""


def _processing_fails(monkeypatch):
    def boom(*args):
        raise RuntimeError("database hiccup")

    for event_type in ("recording.started", "recording.completed", "recording.failed"):
        monkeypatch.setitem(handlers.HANDLERS, event_type, boom)


def _broker_down(monkeypatch):
    def refuse(event_ids, **options):
        return False  # what calls.dispatch answers when the broker will not take it

    monkeypatch.setattr(dispatch, "send_events", refuse)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mishap", "state_after"),
    [(_processing_fails, WebhookEvent.State.FAILED), (_broker_down, WebhookEvent.State.PENDING)],
    ids=["processing-failed", "broker-down"],
)
def test_retry_of_an_unfinished_delivery_is_processed_again(
    post_webhook, monkeypatch, mishap, state_after
):
    mishap(monkeypatch)
    first = post_webhook(STARTED, webhook_id="msg_retry")
    event = WebhookEvent.objects.get()
    assert first.status_code == 202  # stored: MiniVoice need not retry for our sake
    assert event.state == state_after
    assert not Recording.objects.exists()

    monkeypatch.undo()
    retry = post_webhook(STARTED, webhook_id="msg_retry")

    assert retry.status_code == 200
    assert retry.json()["status"] == "duplicate"
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.error == ""
    assert WebhookEvent.objects.count() == 1
    assert Recording.objects.get().minivoice_id == "rec_call_123"


@pytest.mark.django_db
def test_failed_processing_keeps_the_error_on_the_event(post_webhook, monkeypatch):
    _processing_fails(monkeypatch)

    post_webhook(STARTED)

    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.FAILED
    assert "database hiccup" in event.error
    assert event.attempts == 1  # in-process mode tries once and keeps the failure
    assert event.processed_at is None
    assert event.raw_body == STARTED.decode()


@pytest.mark.django_db
def test_retry_of_a_processed_delivery_is_not_processed_again(post_webhook, monkeypatch):
    runs = []
    real_event_process = tasks.event_process

    def counting_event_process(**kwargs):
        runs.append(kwargs)
        return real_event_process(**kwargs)

    monkeypatch.setattr(tasks, "event_process", counting_event_process)
    post_webhook(STARTED, webhook_id="msg_done")
    event = WebhookEvent.objects.get()
    assert len(runs) == 1

    retry = post_webhook(STARTED, webhook_id="msg_done")

    assert retry.status_code == 200
    assert len(runs) == 1
    processed_at = event.processed_at
    event.refresh_from_db()
    assert event.attempts == 1
    assert event.processed_at == processed_at


# -- Bodies we cannot act on ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"{not json", b"[1,2]", b'"string"', b""])
def test_signed_malformed_json_is_kept_as_malformed(client, body):
    # CONTENT_TYPE by hand: the test client drops the header when the body is empty.
    headers = signed(body, webhook_id="msg_bad_json")
    response = post(client, body, headers, CONTENT_TYPE="application/json")

    assert_refused(response, 400, "malformed_json")
    event = WebhookEvent.objects.get()
    assert event.webhook_id == "msg_bad_json"
    assert event.state == WebhookEvent.State.MALFORMED
    assert event.raw_body == body.decode()
    assert event.payload is None
    assert event.event_type == ""
    assert not Call.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("body", HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
def test_signed_hostile_json_is_kept_as_malformed_not_a_500(post_webhook, body):
    # NaN, Infinity, 1e400, deep nesting and huge integers: Python's json reads (or crashes
    # on) them, but they are not JSON a database stores. A 400, and the delivery is kept.
    response = post_webhook(body, webhook_id="msg_hostile")

    assert_refused(response, 400, "malformed_json")
    event = WebhookEvent.objects.get()
    assert event.webhook_id == "msg_hostile"
    assert event.state == WebhookEvent.State.MALFORMED
    assert event.raw_body == body.decode()
    assert event.payload is None
    assert (event.event_type, event.call_minivoice_id, event.occurred_at) == ("", "", None)
    assert event.headers["webhook-id"] == "msg_hostile"
    assert event.attempts == 0
    assert not Call.objects.exists()
    assert not Recording.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "retry_body",
    [b"{not json", STARTED],
    ids=["same-body", "valid-body-under-the-same-id"],
)
def test_retry_of_a_malformed_delivery_is_a_duplicate_and_stores_nothing_more(
    post_webhook, retry_body
):
    first = post_webhook(b"{not json", webhook_id="msg_malformed")

    retry = post_webhook(retry_body, webhook_id="msg_malformed")

    assert_refused(first, 400, "malformed_json")
    # 2xx, so that MiniVoice stops retrying a body it will never fix.
    assert retry.status_code == 200
    assert retry["Content-Type"] == "application/json"
    assert retry.json() == {"status": "duplicate", "webhook_id": "msg_malformed"}
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.MALFORMED
    assert event.raw_body == "{not json"
    assert event.payload is None
    assert event.attempts == 0
    assert not Call.objects.exists()
    assert not Recording.objects.exists()


# Lone UTF-16 surrogates are valid JSON escapes but not text any database can hold.
LONE = "\ud800"
REPLACED = "\ufffd"


@pytest.mark.django_db
def test_lone_surrogate_in_the_event_type_is_stored_replaced_and_ignored(post_webhook):
    payload = minivoice_event(f"recording.started{LONE}", recording_id="rec_call_123")
    body = body_of(payload)
    assert b"\\ud800" in body  # sent as the escape, as json.dumps writes it

    response = post_webhook(body, webhook_id="msg_surrogate_type")

    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "webhook_id": "msg_surrogate_type"}
    event = WebhookEvent.objects.get()
    assert event.event_type == f"recording.started{REPLACED}"
    assert event.payload["event"] == f"recording.started{REPLACED}"
    assert event.raw_body == body.decode()
    assert event.state == WebhookEvent.State.IGNORED
    assert event.attempts == 1
    assert not Call.objects.exists()
    assert not Recording.objects.exists()


@pytest.mark.django_db
def test_lone_surrogate_in_the_call_id_is_stored_replaced_and_processed(post_webhook):
    payload = minivoice_event("call.answered", call_id=f"call_{LONE}")

    response = post_webhook(payload, webhook_id="msg_surrogate_call")

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.call_minivoice_id == f"call_{REPLACED}"
    assert event.payload["call"]["id"] == f"call_{REPLACED}"
    assert event.payload["data"]["call_id"] == f"call_{REPLACED}"
    assert event.state == WebhookEvent.State.PROCESSED, event.error
    assert event.attempts == 1
    call = Call.objects.get()
    assert call.minivoice_id == f"call_{REPLACED}"
    assert call.status == Call.Status.IN_PROGRESS
    assert call.answered_at == event.occurred_at


@pytest.mark.django_db
def test_lone_surrogates_in_the_data_are_stored_replaced_and_processed(post_webhook):
    payload = minivoice_event(
        "recording.failed",
        recording_id=f"rec_{LONE}",
        reason=f"disk \udfff{LONE} full",  # low then high: no pair
    )
    payload["data"][f"extra{LONE}"] = [f"{LONE}x", {f"k{LONE}": "\x00"}]

    response = post_webhook(payload, webhook_id="msg_surrogate_data")

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED, event.error
    assert event.payload["data"]["recording_id"] == f"rec_{REPLACED}"
    assert event.payload["data"]["reason"] == f"disk {REPLACED}{REPLACED} full"
    assert event.payload["data"][f"extra{REPLACED}"] == [f"{REPLACED}x", {f"k{REPLACED}": REPLACED}]
    assert event.raw_body == body_of(payload).decode()  # the escapes, as sent
    recording = Recording.objects.get()
    assert recording.minivoice_id == f"rec_{REPLACED}"
    assert recording.status == Recording.Status.FAILED
    assert recording.failure_reason == f"disk {REPLACED}{REPLACED} full"
    call = Call.objects.get()
    assert call.last_step == f"Recording failed: disk {REPLACED}{REPLACED} full"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "created_at",
    ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"],
    ids=["after-year-9999-in-utc", "before-year-1-in-utc"],
)
def test_created_at_out_of_range_in_utc_is_unknown_and_the_event_processed(
    post_webhook, created_at
):
    response = post_webhook(
        minivoice_event("call.answered", created_at=created_at), webhook_id="msg_far_date"
    )

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.occurred_at is None
    assert event.payload["created_at"] == created_at
    assert event.state == WebhookEvent.State.PROCESSED, event.error
    assert event.attempts == 1
    call = Call.objects.get()
    assert call.status == Call.Status.IN_PROGRESS
    # With MiniVoice's time unknown, the event counts as of its arrival.
    assert call.answered_at == call.last_step_at == event.received_at
    assert call.last_step == "Answered"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("created_at", "time_zone"),
    [("0001-01-01T00:00:00Z", "America/New_York"), ("9999-12-31T23:59:59Z", "Asia/Tokyo")],
    ids=["first-day-west-of-utc", "last-day-east-of-utc"],
)
def test_created_at_at_the_ends_of_the_calendar_leaves_the_event_showable_in_any_time_zone(
    post_webhook, admin_client, settings, created_at, time_zone
):
    # In range in UTC, but not in a deployment's TIME_ZONE: what is stored must still be
    # shown to support (the admin localizes every date it shows).
    settings.TIME_ZONE = time_zone

    response = post_webhook(minivoice_event("call.answered", created_at=created_at))

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED, event.error
    call = Call.objects.get()
    pages = {
        "events": reverse("admin:calls_webhookevent_changelist"),
        "event": reverse("admin:calls_webhookevent_change", args=[event.pk]),
        "calls": reverse("admin:calls_call_changelist"),
        "call": reverse("admin:calls_call_change", args=[call.pk]),
    }
    admin_client.raise_request_exception = False  # a crash shows as a 500 below
    statuses = {name: admin_client.get(url).status_code for name, url in pages.items()}
    assert statuses == dict.fromkeys(pages, 200)


@pytest.mark.django_db
def test_empty_json_object_is_stored_and_ignored_not_malformed(post_webhook):
    # `{}` is a JSON object: an event we do not know, not a malformed body.
    response = post_webhook(b"{}")

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.payload == {}
    assert event.state == WebhookEvent.State.IGNORED
    assert not Call.objects.exists()


def _padded(size: int) -> bytes:
    """A signed-able JSON event of exactly `size` bytes."""
    empty = body_of(minivoice_event(padding=""))
    return body_of(minivoice_event(padding="x" * (size - len(empty))))


@pytest.mark.django_db
def test_body_over_256_kib_is_refused_and_not_stored(post_webhook):
    body = _padded(MAX_BODY + 1)
    assert len(body) == MAX_BODY + 1

    response = post_webhook(body)

    assert_refused(response, 413, "payload_too_large")
    assert_nothing_stored()


@pytest.mark.django_db
def test_body_of_exactly_256_kib_is_accepted(post_webhook):
    body = _padded(MAX_BODY)
    assert len(body) == MAX_BODY

    response = post_webhook(body)

    assert response.status_code == 202
    assert WebhookEvent.objects.get().raw_body == body.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_body_that_is_not_json_media_type_is_refused_and_not_stored(post_webhook, content_type):
    response = post_webhook(STARTED, content_type=content_type)

    assert_refused(response, 415, "unsupported_media_type")
    assert_nothing_stored()


@pytest.mark.django_db
def test_webhook_id_longer_than_255_characters_is_refused_and_not_stored(post_webhook):
    response = post_webhook(STARTED, webhook_id="m" * 256)

    assert_refused(response, 400, "invalid_webhook_id")
    assert_nothing_stored()


@pytest.mark.django_db
def test_webhook_id_of_255_characters_is_accepted(post_webhook):
    response = post_webhook(STARTED, webhook_id="m" * 255)

    assert response.status_code == 202
    assert WebhookEvent.objects.get().webhook_id == "m" * 255


# -- Length and chunked bodies ---------------------------------------------------------------


def post_chunked(client: Client, body: bytes, headers: dict, *, terminated: bool = True):
    """POST `body` as a WSGI server hands on a chunked request: no Content-Length and, when
    the server ends the stream for the app (gunicorn does), `wsgi.input_terminated`.

    The stream is a plain BytesIO: a read past its end returns what is left, as gunicorn's
    does (the test client's own stream refuses such a read).
    """
    environ = {
        "CONTENT_LENGTH": "",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
    }
    if terminated:
        environ["wsgi.input_terminated"] = True
    return client.generic(
        "POST", WEBHOOK_URL, body, content_type="application/json", **environ, **headers
    )


@pytest.mark.django_db
@pytest.mark.parametrize("size", [len(STARTED), MAX_BODY], ids=["small", "exactly-256-kib"])
def test_chunked_delivery_is_stored_whole_and_processed(
    client, django_capture_on_commit_callbacks, size
):
    body = _padded(size)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_chunked(client, body, signed(body, webhook_id="msg_chunked"))

    assert response.status_code == 202, response.content
    assert response.json() == {"status": "accepted", "webhook_id": "msg_chunked"}
    event = WebhookEvent.objects.get()
    assert event.webhook_id == "msg_chunked"
    assert event.raw_body == body.decode()
    assert event.state == WebhookEvent.State.PROCESSED, event.error
    assert Call.objects.get().minivoice_id == "call_123"


@pytest.mark.django_db
def test_chunked_delivery_the_server_did_not_terminate_is_refused_with_411(client):
    # Without wsgi.input_terminated the stream may not end (a server that passes the raw
    # chunked bytes on, or runserver): ask for a Content-Length instead of hanging.
    response = post_chunked(client, STARTED, signed(STARTED), terminated=False)

    assert_refused(response, 411, "length_required")
    assert_nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "size",
    [MAX_BODY + 1, settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1],
    ids=["256-kib-and-a-byte", "over-django-upload-limit"],
)
def test_chunked_body_over_256_kib_is_refused_and_not_stored(client, size):
    body = _padded(size)

    response = post_chunked(client, body, signed(body))

    assert_refused(response, 413, "payload_too_large")
    assert_nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize("content_length", ["-1", "abc", "1.5"])
def test_content_length_that_is_not_a_whole_number_is_refused(client, content_length):
    response = post(client, STARTED, signed(STARTED), CONTENT_LENGTH=content_length)

    assert_refused(response, 400, "bad_content_length")
    assert_nothing_stored()


@pytest.mark.django_db
def test_body_over_djangos_upload_limit_is_refused_as_too_large_not_read(post_webhook):
    # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB) with a 400
    # of its own; our 413 must come first, from the Content-Length alone.
    body = _padded(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response = post_webhook(body)

    assert_refused(response, 413, "payload_too_large")
    assert_nothing_stored()


# -- HTTP ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "put"])
def test_other_methods_are_refused_with_the_envelope(client, method):
    response = getattr(client, method)(WEBHOOK_URL, **signed(b""))

    assert_refused(response, 405, "method_not_allowed")
    assert_nothing_stored()


@pytest.mark.django_db
def test_accept_html_still_gets_json(client):
    accepted = post(client, STARTED, signed(STARTED), HTTP_ACCEPT="text/html")
    refused = post(client, STARTED, {}, HTTP_ACCEPT="text/html")
    not_allowed = client.get(WEBHOOK_URL, HTTP_ACCEPT="text/html")

    assert accepted.status_code == 202
    assert accepted["Content-Type"] == "application/json"
    assert accepted.json()["status"] == "accepted"
    assert_refused(refused, 401, "invalid_signature")
    assert_refused(not_allowed, 405, "method_not_allowed")


# -- Events we store but do not act on -------------------------------------------------------


@pytest.mark.django_db
def test_unknown_event_type_is_stored_and_ignored(post_webhook):
    response = post_webhook(minivoice_event("call.transcribed", text="hello"))

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.event_type == "call.transcribed"
    assert event.call_minivoice_id == "call_123"
    assert event.payload["data"]["text"] == "hello"
    assert event.state == WebhookEvent.State.IGNORED
    assert not Call.objects.exists()


@pytest.mark.django_db
def test_known_event_without_a_call_id_is_stored_and_ignored(post_webhook):
    payload = {
        "event": "recording.started",
        "created_at": "2026-05-29T12:00:12Z",
        "data": {"recording_id": "rec_orphan", "status": "started"},
    }

    response = post_webhook(payload)

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.event_type == "recording.started"
    assert event.call_minivoice_id == ""
    assert event.state == WebhookEvent.State.IGNORED
    assert "no call id" in event.error
    assert not Call.objects.exists()
    assert not Recording.objects.exists()


# -- Concurrency ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_simultaneous_copies_of_a_delivery_are_stored_once():
    """The same delivery from several threads at once: one row, processed once.

    On PostgreSQL the copies really race. SQLite's in-memory test database (shared cache)
    answers "database table is locked" at once, where the file database of a laptop would
    wait out its busy timeout, so there the requests take turns.
    """
    copies = 8
    headers = signed(STARTED, webhook_id="msg_race")
    barrier = Barrier(copies)
    turns = Lock() if connection.vendor == "sqlite" else nullcontext()

    def deliver(_: int) -> int:
        try:
            client = Client()
            barrier.wait(timeout=10)
            with turns:
                return post(client, STARTED, headers).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=copies) as pool:
        statuses = sorted(pool.map(deliver, range(copies)))

    assert statuses == [200] * (copies - 1) + [202]
    event = WebhookEvent.objects.get()
    assert event.webhook_id == "msg_race"
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.attempts == 1
    assert Call.objects.count() == 1
    assert Recording.objects.count() == 1
