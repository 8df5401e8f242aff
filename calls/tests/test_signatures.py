"""calls.protocol.signatures: the Standard Webhooks check on MiniVoice's requests, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from calls.protocol.signatures import SignatureError, signed_headers, verify_signature
from conftest import OTHER_SECRET, TEST_SECRET

BODY = b'{"event": "recording.started", "call": {"id": "call_123"}}'


def headers_for(body: bytes = BODY, *, minutes: float = 0, **options) -> dict[str, str]:
    """Headers signed now (or `minutes` from now); built inside each test, never at import,
    so that a slow test run cannot push them out of the 5-minute window."""
    options = {"secret": TEST_SECRET, "webhook_id": "msg_1", **options}
    timestamp = datetime.now(tz=UTC) + timedelta(minutes=minutes)
    return signed_headers(body=body, timestamp=timestamp, **options)


def with_header(name: str, value: str) -> dict[str, str]:
    return {**headers_for(), name: value}


def without_header(name: str) -> dict[str, str]:
    headers = headers_for()
    del headers[name]
    return headers


def good_signature() -> str:
    return headers_for()["webhook-signature"]


@pytest.mark.parametrize("minutes", [0, -4, 4], ids=["now", "4-minutes-old", "4-minutes-ahead"])
def test_good_signature_passes(minutes):
    headers = headers_for(minutes=minutes)
    assert verify_signature(body=BODY, headers=headers, secrets=[TEST_SECRET]) is None


@pytest.mark.parametrize(
    ("sent_body", "make_headers", "reason"),
    [
        (BODY, lambda: headers_for(secret=OTHER_SECRET), "No matching signature"),
        (BODY.replace(b"call_123", b"call_999"), headers_for, "No matching signature"),
        (BODY, lambda: with_header("webhook-id", "msg_2"), "No matching signature"),
        (BODY, lambda: headers_for(minutes=-6), "too old"),
        (BODY, lambda: headers_for(minutes=6), "too new"),
        (BODY, lambda: with_header("webhook-timestamp", "yesterday"), "whole Unix seconds"),
        (BODY, lambda: with_header("webhook-signature", good_signature()[3:]), "malformed"),
        (BODY, lambda: with_header("webhook-signature", "v1,not-base64!!"), "malformed"),
        (
            BODY,
            lambda: with_header("webhook-signature", good_signature().replace("v1,", "v2,")),
            "No matching signature",
        ),
        (BODY, lambda: with_header("webhook-signature", ""), "headers are required"),
        (BODY, lambda: without_header("webhook-id"), "headers are required"),
        (BODY, lambda: without_header("webhook-timestamp"), "headers are required"),
        (BODY, lambda: without_header("webhook-signature"), "headers are required"),
        (BODY, dict, "headers are required"),
    ],
    ids=[
        "wrong-secret",
        "tampered-body",
        "other-webhook-id",
        "stale-timestamp",
        "future-timestamp",
        "non-numeric-timestamp",
        "no-comma",
        "not-base64",
        "v2-only",
        "empty-signature",
        "no-webhook-id",
        "no-timestamp",
        "no-signature",
        "no-headers",
    ],
)
def test_bad_signature_raises_with_the_reason(sent_body, make_headers, reason):
    with pytest.raises(SignatureError, match=reason):
        verify_signature(body=sent_body, headers=make_headers(), secrets=[TEST_SECRET])


@pytest.mark.parametrize("secrets", [[TEST_SECRET, OTHER_SECRET], [OTHER_SECRET, TEST_SECRET]])
def test_any_of_several_secrets_may_match(secrets):
    verify_signature(body=BODY, headers=headers_for(), secrets=secrets)
    verify_signature(body=BODY, headers=headers_for(secret=OTHER_SECRET), secrets=secrets)


def test_one_matching_signature_among_several_passes():
    wrong = headers_for(secret=OTHER_SECRET)["webhook-signature"]
    for header in (f"{wrong} {good_signature()}", f"{good_signature()} {wrong}"):
        headers = with_header("webhook-signature", header)
        verify_signature(body=BODY, headers=headers, secrets=[TEST_SECRET])


@pytest.mark.parametrize("garbled", ["v1", "v1,not-base64!!", ",abc", "v1,"])
def test_a_garbled_entry_beside_a_good_signature_does_not_refuse_it(garbled):
    for header in (f"{garbled} {good_signature()}", f"{good_signature()} {garbled}"):
        headers = with_header("webhook-signature", header)
        verify_signature(body=BODY, headers=headers, secrets=[TEST_SECRET])


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1,2]", b'"string"'])
def test_good_signature_on_a_body_that_is_not_a_json_object_passes(body):
    # Parsing is the caller's job: intake stores such a delivery as malformed.
    assert verify_signature(body=body, headers=headers_for(body), secrets=[TEST_SECRET]) is None


def test_body_that_is_not_utf8_cannot_be_checked():
    with pytest.raises(SignatureError, match="not UTF-8"):
        verify_signature(body=b"\xff\xfe", headers=headers_for(), secrets=[TEST_SECRET])


def test_no_secret_configured_refuses_everything():
    with pytest.raises(SignatureError, match="No webhook secret is configured"):
        verify_signature(body=BODY, headers=headers_for(), secrets=[])


def test_signed_headers_name_the_id_and_the_timestamp_in_unix_seconds():
    at = datetime(2026, 5, 29, 12, 0, 12, 750000, tzinfo=UTC)
    headers = signed_headers(body=BODY, secret=TEST_SECRET, webhook_id="msg_42", timestamp=at)
    assert headers.keys() == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == "msg_42"
    assert headers["webhook-timestamp"] == "1780056012"
    assert headers["webhook-signature"].startswith("v1,")


def test_signed_headers_sign_the_instant_of_a_non_utc_timestamp():
    # The same instant written in another time zone must sign the header's Unix seconds.
    at = datetime.now(tz=timezone(timedelta(hours=-5)))
    headers = signed_headers(body=BODY, secret=TEST_SECRET, webhook_id="msg_1", timestamp=at)
    verify_signature(body=BODY, headers=headers, secrets=[TEST_SECRET])


@pytest.mark.parametrize("suffix", [".9", ".0", "e0", " ", "\u0661"])
def test_a_timestamp_that_is_not_whole_seconds_is_refused(suffix):
    # A signature made over "T" must not verify a request that says "T.9".
    headers = headers_for()
    headers["webhook-timestamp"] += suffix

    with pytest.raises(SignatureError, match="whole Unix seconds"):
        verify_signature(body=BODY, headers=headers, secrets=[TEST_SECRET])
