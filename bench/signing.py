"""Signed MiniVoice deliveries for the load generator, made before each run.

wrk's Lua has no HMAC, so each run gets a pool of requests signed here, per Standard
Webhooks, each with its own webhook-id and a timestamp taken when the pool is made (the
app accepts ±5 minutes; a pool lives for one run of seconds). wrk's script
(bench/signed.lua) reads the pool and sends each request once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# A call's deliveries in the order MiniVoice sends them: processing touches the same
# call several times, as it does in production.
EVENT_CYCLE = (
    "call.initiated",
    "call.ringing",
    "call.answered",
    "recording.started",
    "recording.completed",
    "call.completed",
)


def new_secret() -> str:
    """A fresh `whsec_…` secret: 24 random bytes, base64, as MiniVoice issues them."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for `body` (Standard Webhooks, v1)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed_content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed_content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_body(n: int, *, run: str, at: datetime) -> bytes:
    """The n-th delivery of a run: a realistic event of about 380 bytes."""
    call_id = f"call_{run}_{n // len(EVENT_CYCLE):07d}"
    event = EVENT_CYCLE[n % len(EVENT_CYCLE)]
    status = {"call.initiated": "initiated", "call.ringing": "ringing"}.get(event, "in_progress")
    data: dict = {"call_id": call_id}
    if event.startswith("recording."):
        data["recording_id"] = f"rec_{call_id}"
    if event == "recording.completed":
        data.update(duration_seconds=42, format="mp3", size_bytes=672_000)
    if event == "call.completed":
        status = "completed"
        data.update(status="completed", duration_seconds=61)
    payload = {
        "event": event,
        "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "call": {
            "id": call_id,
            "status": status,
            "direction": "inbound",
            "from": "+15550100",
            "to": "+15550199",
        },
        "variables": {
            "customer_ref": "ACME-004217",
            "queue": "billing",
            "lang": "en",
            "tier": "gold",
        },
        "data": data,
    }
    return json.dumps(payload).encode()


def answer_body(n: int, *, run: str, at: datetime) -> bytes:
    """The n-th answer_url request of a run: one new call each (CONTRACT.md §1)."""
    payload = {
        "call": {
            "id": f"call_{run}_{n:07d}",
            "status": "in_progress",
            "direction": "inbound",
            "from": "+15550100",
            "to": "+15550199",
        },
        "variables": {"customer_ref": "ACME-004217", "queue": "billing", "lang": "en"},
        "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return json.dumps(payload).encode()


def follow_up_body(n: int, *, run: str, at: datetime, call_id: str) -> bytes:
    """A follow-up answer_url request: call `call_id` again, its caller having pressed 1
    at the collect (the digits come as `variables.digits`, CONTRACT.md §2)."""
    payload = json.loads(answer_body(n, run=run, at=at))
    payload["call"]["id"] = call_id
    payload["variables"]["digits"] = "1"
    return json.dumps(payload).encode()


@dataclass(frozen=True)
class OpenCall:
    """A call the app has answered with a collect: where MiniVoice comes back for it."""

    call_id: str
    path: str  # the collect's url, path and query (a signed step token)


BODIES = {"webhook": webhook_body, "answer": answer_body, "follow_up": follow_up_body}


@dataclass(frozen=True)
class SignedRequest:
    webhook_id: str
    timestamp: int
    signature: str
    body: bytes
    path: str = ""  # where to send it, path and query; "": the URL wrk was given

    def line(self) -> bytes:
        """One line of a pool file: tab-separated, the body last (compact JSON has
        neither tabs nor newlines; a URL's path and query have no tab)."""
        head = f"{self.webhook_id}\t{self.timestamp}\t{self.signature}\t{self.path}\t"
        return head.encode() + self.body + b"\n"


def signed_requests(
    *,
    kind: str,
    count: int,
    secret: str,
    run: str,
    now: datetime | None = None,
    calls: Sequence[OpenCall] = (),
) -> Iterator[SignedRequest]:
    """`count` signed requests of `kind` ("webhook", "answer", or "follow_up": each of
    the open `calls` asked again in turn, at its own step url), ids unique to `run`.

    webhook-ids are one namespace across both endpoints, so the kind is in the id.
    """
    now = now or datetime.now(tz=UTC)
    timestamp = int(now.timestamp())
    make_body = BODIES[kind]
    if kind == "follow_up" and not calls:
        raise ValueError("follow-up requests need the calls they ask again")
    for n in range(count):
        webhook_id = f"msg_{run}_{kind[0]}{n:08d}"
        path = ""
        if kind == "follow_up":
            call = calls[n % len(calls)]
            body, path = make_body(n, run=run, at=now, call_id=call.call_id), call.path
        else:
            body = make_body(n, run=run, at=now)
        yield SignedRequest(
            webhook_id=webhook_id,
            timestamp=timestamp,
            signature=sign(secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body),
            body=body,
            path=path,
        )


def write_pool(path: Path, requests: Iterator[SignedRequest]) -> int:
    """Write a pool file for bench/signed.lua; return how many requests it holds."""
    count = 0
    with path.open("wb") as pool:
        for request in requests:
            pool.write(request.line())
            count += 1
    return count


def read_pool_line(line: bytes) -> SignedRequest:
    """Parse one pool line back (what the Lua script does), for the tests."""
    webhook_id, timestamp, signature, path, body = line.rstrip(b"\n").split(b"\t", 4)
    return SignedRequest(
        webhook_id.decode(), int(timestamp), signature.decode(), body, path.decode()
    )
