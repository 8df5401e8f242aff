"""Rows shaped like the app's own, as COPY text lines: calls and webhook deliveries.

Shared by bench-scale (the admin at a million calls) and bench-partitioning (the events
table, plain against partitioned by month), so both measure the same ~390-byte bodies.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bench.signing import EVENT_CYCLE

CALL_COLUMNS = (
    "minivoice_id", "direction", "from_number", "to_number", "status", "final_status",
    "started_at", "answered_at", "ended_at", "duration_seconds", "last_step", "last_step_at",
    "created_at", "updated_at",
)  # fmt: skip
EVENT_COLUMNS = (
    "webhook_id", "event_type", "call_minivoice_id", "occurred_at", "received_at",
    "deliveries", "headers", "raw_body", "payload", "state", "queued_at", "attempts",
    "processed_at", "error",
)  # fmt: skip
# Most calls are over; a few are live (the admin's status filter has something to find).
STATUS_EVERY = {"in_progress": 50, "ringing": 97}


def call_id(n: int) -> str:
    return f"call_s{n:09d}"


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def call_row(n: int, *, created: datetime) -> str:
    """One COPY text line for calls_call."""
    status = "ended"
    for live, every in STATUS_EVERY.items():
        if n % every == 0:
            status = live
    ended = status == "ended"
    at = _ts(created)
    end = _ts(created + timedelta(seconds=61))
    fields = [
        call_id(n), "inbound", "+15550100", f"+1555{n % 10_000_000:07d}", status,
        "completed" if ended else "", at, at, end if ended else r"\N", "61" if ended else r"\N",
        "Recording completed" if ended else "Answered", at, at, end if ended else at,
    ]  # fmt: skip
    return "\t".join(fields) + "\n"


def event_row(call: int, k: int, *, created: datetime, webhook_id: str) -> str:
    """One COPY text line for calls_webhookevent: a ~380-byte delivery, processed."""
    event = EVENT_CYCLE[k % len(EVENT_CYCLE)]
    at = created + timedelta(seconds=k)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    cid = call_id(call)
    body = (
        f'{{"event": "{event}", "created_at": "{stamp}", "call": {{"id": "{cid}", '
        f'"status": "in_progress", "direction": "inbound", "from": "+15550100", '
        f'"to": "+15550199"}}, "variables": {{"customer_ref": "ACME-004217", '
        f'"queue": "billing", "lang": "en", "tier": "gold"}}, "data": {{"call_id": "{cid}", '
        f'"recording_id": "rec_{cid}", "duration_seconds": 42}}}}'
    )
    headers = (
        f'{{"webhook-id": "{webhook_id}", "webhook-timestamp": "{int(at.timestamp())}", '
        f'"content-type": "application/json", "content-length": "{len(body)}", '
        '"user-agent": "MiniVoice-Webhooks/1.0"}'
    )
    when = _ts(at)
    fields = [
        webhook_id, event, cid, when, when, "1", headers, body, body, "processed", when, "1",
        when, "",
    ]  # fmt: skip
    return "\t".join(fields) + "\n"
