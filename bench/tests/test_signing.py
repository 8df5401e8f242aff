"""The signer: what the load generator sends must pass the app's own signature check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from bench import signing
from calls.protocol.signatures import SignatureError, verify_signature

OPEN = [
    signing.OpenCall("call_a", "/minivoice/answer/?step=aaa%3A1"),
    signing.OpenCall("call_b", "/minivoice/answer/?step=bbb%3A2"),
]


def _headers(request: signing.SignedRequest) -> dict[str, str]:
    return {
        "webhook-id": request.webhook_id,
        "webhook-timestamp": str(request.timestamp),
        "webhook-signature": request.signature,
    }


@pytest.mark.parametrize("kind", ["webhook", "answer", "follow_up"])
def test_every_pooled_request_passes_the_apps_signature_check(kind):
    secret = signing.new_secret()
    requests = list(
        signing.signed_requests(kind=kind, count=12, secret=secret, run="t1", calls=OPEN)
    )

    for request in requests:
        verify_signature(body=request.body, headers=_headers(request), secrets=[secret])


def test_signature_matches_the_standard_webhooks_library():
    secret = signing.new_secret()
    at = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    body = b'{"event": "call.ringing"}'

    ours = signing.sign(secret=secret, webhook_id="msg_1", timestamp=int(at.timestamp()), body=body)

    assert ours == Webhook(secret).sign(msg_id="msg_1", timestamp=at, data=body.decode())


def test_a_request_signed_with_another_secret_is_refused():
    request = next(
        signing.signed_requests(kind="webhook", count=1, secret=signing.new_secret(), run="t2")
    )

    with pytest.raises(SignatureError):
        verify_signature(
            body=request.body, headers=_headers(request), secrets=[signing.new_secret()]
        )


def test_ids_are_unique_within_a_run_and_across_kinds():
    secret = signing.new_secret()
    ids = [
        r.webhook_id
        for kind in ("webhook", "answer")
        for r in signing.signed_requests(kind=kind, count=500, secret=secret, run="t3")
    ]

    assert len(ids) == len(set(ids)) == 1000


def test_timestamps_are_fresh_when_the_pool_is_made():
    before = datetime.now(tz=UTC) - timedelta(seconds=1)
    request = next(
        signing.signed_requests(kind="webhook", count=1, secret=signing.new_secret(), run="t4")
    )

    assert before.timestamp() <= request.timestamp <= datetime.now(tz=UTC).timestamp()


def test_webhook_bodies_are_realistic_events_of_about_380_bytes():
    at = datetime.now(tz=UTC)
    bodies = [signing.webhook_body(n, run="t5abcd", at=at) for n in range(60)]

    sizes = [len(b) for b in bodies]
    assert 340 <= sum(sizes) / len(sizes) <= 420
    events = [json.loads(b) for b in bodies]
    assert {e["event"] for e in events} == set(signing.EVENT_CYCLE)
    # Six deliveries per call, the same call id in the envelope and the data.
    assert len({e["call"]["id"] for e in events}) == 10
    assert all(e["call"]["id"] == e["data"]["call_id"] for e in events)


def test_pool_lines_round_trip_with_the_body_intact(tmp_path):
    secret = signing.new_secret()
    made = list(signing.signed_requests(kind="webhook", count=30, secret=secret, run="t6"))
    pool = tmp_path / "pool"

    written = signing.write_pool(pool, iter(made))

    lines = pool.read_bytes().splitlines(keepends=True)
    assert written == len(lines) == 30
    assert [signing.read_pool_line(line) for line in lines] == made


def test_follow_ups_take_turns_on_the_open_calls_each_at_its_own_step_url():
    requests = list(
        signing.signed_requests(
            kind="follow_up", count=20, secret=signing.new_secret(), run="t7", calls=OPEN
        )
    )

    sent = [(json.loads(r.body)["call"]["id"], r.path) for r in requests]
    assert sent == [(c.call_id, c.path) for c in OPEN] * 10
    assert {json.loads(r.body)["variables"]["digits"] for r in requests} == {"1"}


def test_follow_ups_without_open_calls_are_refused():
    with pytest.raises(ValueError, match="need the calls"):
        list(signing.signed_requests(kind="follow_up", count=1, secret="whsec_AA==", run="t8"))


def test_a_follow_ups_path_survives_the_pool_line(tmp_path):
    made = list(
        signing.signed_requests(
            kind="follow_up", count=4, secret=signing.new_secret(), run="t9", calls=OPEN
        )
    )
    pool = tmp_path / "pool"
    signing.write_pool(pool, iter(made))

    lines = pool.read_bytes().splitlines(keepends=True)
    assert [signing.read_pool_line(line) for line in lines] == made
